"""Distributed Map ItemReader / ResultWriter: parsing is pure, storage is a task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podium.asl import execute
from podium.asl.map_io import ItemReaderSpec, group_batches, parse_items


def _spec(input_type: str | None, **kw: Any) -> ItemReaderSpec:
    return ItemReaderSpec("r", None, input_type, kw.get("location", "FIRST_ROW"), tuple(kw.get("headers", ())), kw.get("max_items"))


@pytest.mark.parametrize("spec, body, items", [
    (_spec("JSON"), '[{"a": 1}, 2]', [{"a": 1}, 2]),
    (_spec("JSONL"), '{"a": 1}\n\n{"a": 2}\n', [{"a": 1}, {"a": 2}]),
    (_spec("CSV"), "x,y\n1,2\n3,4\n", [{"x": "1", "y": "2"}, {"x": "3", "y": "4"}]),
    (_spec("CSV", location="GIVEN", headers=["p", "q"]), "1,2\n", [{"p": "1", "q": "2"}]),
    (_spec("JSON", max_items=1), b"[1, 2, 3]", [1]),
    (_spec(None), [5, 6], [5, 6]),
])
def test_parse_items(spec: ItemReaderSpec, body: Any, items: list[Any]) -> None:
    assert parse_items(spec, body) == items


def _definition(reader: dict[str, Any], writer: dict[str, Any] | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map", "End": True, "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$.id"}, "End": True}}},
    }
    if writer is not None:
        state["ResultWriter"] = writer
    return {"StartAt": "M", "States": {"M": state}}


def test_reader_task_reads_a_file_and_writer_task_receives_results(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    written: list[Any] = []

    def get_object(params: Any) -> str:
        return (tmp_path / params["Key"]).read_text()

    def put_object(params: Any) -> Any:
        written.append(params)
        return {"Bucket": params["Bucket"], "Key": f"{params['Prefix']}/manifest.json"}

    doc = _definition(
        {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
         "Parameters": {"Bucket": "lake", "Key.$": "$.key"}},
        {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "lake", "Prefix": "out"}},
    )
    result = execute(doc, {"key": "items.jsonl"}, resources={
        "arn:aws:states:::s3:getObject": get_object, "arn:aws:states:::s3:putObject": put_object})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["ResultWriterDetails"] == {"Bucket": "lake", "Key": "out/manifest.json"}
    assert written[0]["Results"] == [{"id": 1}, {"id": 2}]


def test_reader_failure_is_item_reader_failed() -> None:
    def broken(params: Any) -> Any:
        raise FileNotFoundError("no such key")

    doc = _definition({"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Key": "k"}})
    result = execute(doc, {}, resources={"arn:aws:states:::s3:getObject": broken})
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert "no such key" in (result.cause or "")


def test_group_batches_by_count_and_bytes() -> None:
    assert group_batches([1, 2, 3], 2, None, {"t": 1}) == [
        {"BatchInput": {"t": 1}, "Items": [1, 2]},
        {"BatchInput": {"t": 1}, "Items": [3]},
    ]
    # "abc" is 5 bytes of JSON: two of them exceed 8 bytes, so each batch holds one.
    assert group_batches(["abc", "abc"], 10, 8, None) == [{"Items": ["abc"]}, {"Items": ["abc"]}]
    assert group_batches([], 5, None, None) == []
