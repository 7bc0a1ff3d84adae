"""Distributed Map's ItemReader and ResultWriter, kept pure.

The step function never touches storage: it asks for the reader's Resource (for example
`arn:aws:states:::s3:getObject`) to be run as a task with the rendered Parameters/Arguments,
and parses what comes back here according to `ReaderConfig` (InputType JSON, JSONL or CSV,
CSVHeaderLocation FIRST_ROW or GIVEN with CSVHeaders, MaxItems). A reader task may also
return an already-decoded list (an object listing, or a pre-parsed file). Likewise the
ResultWriter's Resource is run as a task that receives the results to store.
`group_batches` forms the ItemBatcher's batches.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.asl.errors import STATES_ITEM_READER_FAILED, AslRuntimeError
from podium.asl.jsonpath import to_json_text

INPUT_TYPES = frozenset({"JSON", "JSONL", "CSV"})


@dataclass(frozen=True, slots=True)
class ItemReaderSpec:
    resource: str
    parameters: Any  # payload Template (JSONPath), JsonataTemplate (JSONata) or None
    input_type: str | None
    csv_header_location: str
    csv_headers: tuple[str, ...]
    max_items: int | None


@dataclass(frozen=True, slots=True)
class ResultWriterSpec:
    resource: str
    parameters: Any


def parse_items(spec: ItemReaderSpec, body: Any) -> list[Any]:
    """Turn what the reader task returned into the list of Map items."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, list):
        items = list(body)
    elif isinstance(body, str):
        items = _parse_text(spec, body)
    elif isinstance(body, Mapping) and isinstance(body.get("Contents"), list):
        items = list(body["Contents"])  # an object listing
    else:
        raise AslRuntimeError(STATES_ITEM_READER_FAILED,
                              f"The item reader returned {type(body).__name__}, not file content or a list")
    if spec.max_items is not None and spec.max_items > 0:
        items = items[: spec.max_items]
    return items


def _parse_text(spec: ItemReaderSpec, text: str) -> list[Any]:
    kind = spec.input_type or "JSON"
    if kind == "JSON":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise AslRuntimeError(STATES_ITEM_READER_FAILED, f"The item file is not valid JSON: {exc}") from None
        if not isinstance(value, list):
            raise AslRuntimeError(STATES_ITEM_READER_FAILED, "The item file must hold a JSON array")
        return value
    if kind == "JSONL":
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as exc:
                    raise AslRuntimeError(STATES_ITEM_READER_FAILED, f"Line {number} is not valid JSON: {exc}") from None
        return items
    rows = list(csv.reader(io.StringIO(text)))
    if spec.csv_header_location == "GIVEN":
        headers = list(spec.csv_headers)
    else:
        if not rows:
            return []
        headers, rows = rows[0], rows[1:]
    items = []
    for row in rows:
        if not row:
            continue
        # AWS keeps CSV values as strings; extra columns get positional names.
        item = {headers[i] if i < len(headers) else str(i): value for i, value in enumerate(row)}
        items.append(item)
    return items


def group_batches(items: list[Any], max_items: int, max_bytes: int | None, batch_input: Any) -> list[dict[str, Any]]:
    """ItemBatcher: consecutive items in groups of at most `max_items` and (when positive)
    `max_bytes` of JSON; each batch is {"BatchInput": ..., "Items": [...]} ("BatchInput"
    only when it is not null)."""
    groups: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_size = len(to_json_text(item).encode())
        if current and (len(current) >= max_items or (max_bytes is not None and max_bytes > 0 and size + item_size > max_bytes)):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        groups.append(current)
    out = []
    for group in groups:
        doc: dict[str, Any] = {}
        if batch_input is not None:
            doc["BatchInput"] = batch_input
        doc["Items"] = group
        out.append(doc)
    return out
