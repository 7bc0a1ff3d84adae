"""Feature value types: the names users write, and their Arrow and DuckDB equivalents."""

from __future__ import annotations

import pyarrow as pa

from podium.errors import ValidationError

# One canonical name per type; SageMaker's names are accepted as aliases so that
# definitions move between the two unchanged.
_SCALARS: dict[str, tuple[pa.DataType, str]] = {
    "string": (pa.string(), "VARCHAR"),
    "int64": (pa.int64(), "BIGINT"),
    "float64": (pa.float64(), "DOUBLE"),
    "bool": (pa.bool_(), "BOOLEAN"),
    "timestamp": (pa.timestamp("us", tz="UTC"), "TIMESTAMPTZ"),
}
_ALIASES = {
    "str": "string",
    "String": "string",
    "int": "int64",
    "Integral": "int64",
    "float": "float64",
    "double": "float64",
    "Fractional": "float64",
    "boolean": "bool",
    "datetime": "timestamp",
}
KEY_TYPES = ("string", "int64")


def canonical_type(name: str) -> str:
    """The canonical spelling of a feature type name; raises ValidationError if unknown."""
    text = name.strip()
    if text.startswith("list<") and text.endswith(">"):
        return f"list<{canonical_type(text[5:-1])}>"
    text = _ALIASES.get(text, text)
    if text not in _SCALARS:
        known = ", ".join([*_SCALARS, "list<...>"])
        raise ValidationError(f"unknown feature type {name!r}; use one of: {known}")
    return text


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type that values of feature type `name` are stored as."""
    name = canonical_type(name)
    if name.startswith("list<"):
        return pa.list_(arrow_type(name[5:-1]))
    return _SCALARS[name][0]


def duckdb_type(name: str) -> str:
    """The DuckDB SQL type that values of feature type `name` are read as."""
    name = canonical_type(name)
    if name.startswith("list<"):
        return f"{duckdb_type(name[5:-1])}[]"
    return _SCALARS[name][1]
