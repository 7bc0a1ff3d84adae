"""S3-style object prefixes: `!{namespace:value}` expressions evaluated per delivered object.

Namespaces, as in Firehose: `timestamp` (a date pattern of yyyy, MM, dd, HH, mm, ss, evaluated
in UTC on the arrival time of the oldest record in the object), `partitionKeyFromQuery`
(a dynamic partition key by name), and `firehose` (`error-output-type`, `random-string`).
Templates are parsed once; rendering is string joins.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from podium.errors import ValidationError

DEFAULT_PREFIX = "!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/"
DEFAULT_ERROR_PREFIX = "errors/!{firehose:error-output-type}/" + DEFAULT_PREFIX

_EXPR = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_DATE_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_DATE = re.compile("|".join(sorted(_DATE_TOKENS, key=len, reverse=True)))


@dataclass(frozen=True)
class Prefix:
    text: str
    parts: tuple[tuple[str, str], ...]  # ("lit", text) | (namespace, value)

    @property
    def partition_keys(self) -> set[str]:
        return {value for kind, value in self.parts if kind == "partitionKeyFromQuery"}

    def render(
        self,
        timestamp_ms: int,
        partition: Mapping[str, str] | None = None,
        error_type: str | None = None,
    ) -> str:
        moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        out = []
        for kind, value in self.parts:
            if kind == "lit":
                out.append(value)
            elif kind == "timestamp":
                out.append(moment.strftime(value))
            elif kind == "partitionKeyFromQuery":
                out.append((partition or {})[value])
            elif value == "error-output-type":
                out.append(error_type or "unknown")
            else:
                out.append(uuid.uuid4().hex[:10])
        return "".join(out)


def compile_prefix(text: str, *, partition_keys: Collection[str] = (), errors: bool = False) -> Prefix:
    parts: list[tuple[str, str]] = []
    pos = 0
    for match in _EXPR.finditer(text):
        if match.start() > pos:
            parts.append(("lit", text[pos : match.start()]))
        namespace, value = match.groups()
        if namespace == "timestamp":
            if not _DATE.search(value) or _DATE.sub("", value).strip("-/_:. "):
                raise ValidationError(
                    f"prefix '{text}': timestamp pattern '{value}' may use only yyyy MM dd HH mm ss",
                    code="InvalidArgument",
                )
            parts.append(("timestamp", _DATE.sub(lambda m: _DATE_TOKENS[m.group(0)], value)))
        elif namespace == "partitionKeyFromQuery":
            if value not in partition_keys:
                raise ValidationError(
                    f"prefix '{text}' uses partition key '{value}', which has no query",
                    code="InvalidArgument",
                )
            parts.append((namespace, value))
        elif namespace == "firehose" and value in ("random-string", "error-output-type"):
            if value == "error-output-type" and not errors:
                raise ValidationError(
                    f"prefix '{text}': !{{firehose:error-output-type}} is only for the error prefix",
                    code="InvalidArgument",
                )
            parts.append((namespace, value))
        else:
            raise ValidationError(
                f"prefix '{text}': unknown expression !{{{namespace}:{value}}}",
                code="InvalidArgument",
            )
        pos = match.end()
    if pos < len(text):
        parts.append(("lit", text[pos:]))
    if "!{" in "".join(v for k, v in parts if k == "lit"):
        raise ValidationError(f"prefix '{text}' has an unclosed !{{...}}", code="InvalidArgument")
    prefix = Prefix(text, tuple(parts))
    missing = set(partition_keys) - prefix.partition_keys
    if missing and not errors:
        raise ValidationError(
            f"prefix '{text}' must use every partition key; missing: {', '.join(sorted(missing))}",
            code="InvalidArgument",
        )
    return prefix
