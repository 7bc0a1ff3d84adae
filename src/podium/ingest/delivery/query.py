"""Field queries for dynamic partitioning: the `.customer.id` subset of jq/JMESPath.

A query is compiled once into a tuple of steps (object keys and list indexes) and then
evaluated per record without parsing. Supported: `.a`, `.a.b`, `.a[0].b`, `."odd key"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from podium.errors import ValidationError

_STEP = re.compile(r'\.(?:([A-Za-z_][A-Za-z0-9_\-]*)|"((?:[^"\\]|\\.)*)")|\[(\d+)\]')


class QueryMiss(LookupError):
    """The record has no scalar value at the query's path."""


@dataclass(frozen=True)
class FieldQuery:
    text: str
    steps: tuple[str | int, ...]

    def evaluate(self, document: Any) -> str:
        value = document
        for step in self.steps:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                raise QueryMiss(f"no value at {self.text}") from None
        if value is None or isinstance(value, (dict, list)):
            raise QueryMiss(f"{self.text} is {'null' if value is None else type(value).__name__}, not a scalar")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def compile_query(text: str) -> FieldQuery:
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise ValidationError(
                f"partition query '{text}' is not supported at character {pos + 1}: use a field "
                "path like .customer.id or .items[0].sku",
                code="InvalidArgument",
            )
        name, quoted, index = match.groups()
        if name is not None:
            steps.append(name)
        elif quoted is not None:
            steps.append(quoted.replace('\\"', '"').replace("\\\\", "\\"))
        else:
            steps.append(int(index))
        pos = match.end()
    if not steps:
        raise ValidationError(f"partition query '{text}' is empty", code="InvalidArgument")
    return FieldQuery(text, tuple(steps))
