"""The transforms a recipe is made of, as immutable, validated step objects.

Each step is a frozen pydantic model tagged by `op`. Validation here is purely
structural (types, required fields, allowed values, identifier and interval syntax);
whether a column exists is checked later, against the data's schema, when the recipe
is compiled (see `podium.prep.compiler`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A DuckDB type name as users write it: INTEGER, DECIMAL(10, 2), VARCHAR[], TIMESTAMP WITH TIME ZONE.
_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])*$")
# An interval for window frames: "1 hour", "7 days", "30 minutes".
_INTERVAL_RE = re.compile(
    r"^\d+\s+(microsecond|millisecond|second|minute|hour|day|week|month|year)s?$", re.I
)
# A Python callable reference: "package.module:function".
_CALLABLE_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    note: str | None = Field(default=None, description="Free text shown in previews and reports.")


def _non_empty_names(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("needs at least one column")
    for v in values:
        if not v or not v.strip():
            raise ValueError("column names must not be empty")
    if len(set(values)) != len(values):
        raise ValueError("lists a column twice")
    return values


class Select(_Step):
    """Keep only these columns, in this order."""

    op: Literal["select"]
    columns: tuple[str, ...]
    _check = field_validator("columns")(_non_empty_names)


class Drop(_Step):
    """Remove these columns."""

    op: Literal["drop"]
    columns: tuple[str, ...]
    _check = field_validator("columns")(_non_empty_names)


class Rename(_Step):
    """Rename columns: {old: new}."""

    op: Literal["rename"]
    mapping: dict[str, str]

    @field_validator("mapping")
    @classmethod
    def _check_mapping(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("needs at least one old: new pair")
        if len(set(v.values())) != len(v):
            raise ValueError("two columns renamed to the same name")
        return v


class Cast(_Step):
    """Change column types: {column: DuckDB type}. `safe` turns bad values into NULL."""

    op: Literal["cast"]
    columns: dict[str, str]
    safe: bool = False

    @field_validator("columns")
    @classmethod
    def _check_types(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("needs at least one column: type pair")
        for col, typ in v.items():
            if not _TYPE_RE.match(typ.strip()):
                raise ValueError(f"'{typ}' for column '{col}' is not a type name")
        return v


class Filter(_Step):
    """Keep rows for which a SQL boolean expression is true."""

    op: Literal["filter"]
    expr: str = Field(min_length=1)


class Dedupe(_Step):
    """Drop duplicate rows: by `keys` (all columns when absent), keeping the first or last
    row in `order_by` order."""

    op: Literal["dedupe"]
    keys: tuple[str, ...] | None = None
    order_by: tuple[str, ...] | None = None
    keep: Literal["first", "last"] = "first"

    @model_validator(mode="after")
    def _order_needed(self) -> Dedupe:
        if self.keys is not None:
            _non_empty_names(self.keys)
            if not self.order_by:
                raise ValueError(
                    "dedupe by keys needs order_by to say which row of a group is first"
                )
        return self


class Fill(_Step):
    """Replace missing values: a constant, or the column's mean, median or mode."""

    op: Literal["fill"]
    columns: tuple[str, ...]
    strategy: Literal["constant", "mean", "median", "mode"] = "constant"
    value: Any = None
    _check = field_validator("columns")(_non_empty_names)

    @model_validator(mode="after")
    def _value_needed(self) -> Fill:
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value")
        if self.strategy != "constant" and self.value is not None:
            raise ValueError(f"strategy '{self.strategy}' computes its value; remove 'value'")
        return self


class OneHot(_Step):
    """One 0/1 column per category (`<column>_<category>`); categories are the given list or
    the distinct values found in the data (at most `max_categories`)."""

    op: Literal["onehot"]
    column: str = Field(min_length=1)
    categories: tuple[str, ...] | None = None
    max_categories: int = Field(default=50, ge=1, le=1000)
    keep_original: bool = False


class Ordinal(_Step):
    """Replace a category by its position (0-based) in `order` (default: sorted distinct
    values); values outside the order become -1, missing stays missing."""

    op: Literal["ordinal"]
    column: str = Field(min_length=1)
    order: tuple[str, ...] | None = None
    output: str | None = None


class Scale(_Step):
    """Standard ((x - mean) / std) or min-max ((x - min) / (max - min)) scaling."""

    op: Literal["scale"]
    columns: tuple[str, ...]
    method: Literal["standard", "minmax"] = "standard"
    _check = field_validator("columns")(_non_empty_names)


class Bin(_Step):
    """Bin a numeric column into an integer bin number (0-based): equal-width bins,
    given edges, or quantile bins."""

    op: Literal["bin"]
    column: str = Field(min_length=1)
    method: Literal["width", "edges", "quantile"] = "width"
    bins: int | None = Field(default=None, ge=2, le=1000)
    edges: tuple[float, ...] | None = None
    output: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Bin:
        if self.method == "edges":
            if not self.edges or len(self.edges) < 2:
                raise ValueError("method 'edges' needs at least two edges")
            if list(self.edges) != sorted(set(self.edges)):
                raise ValueError("edges must be strictly increasing")
            if self.bins is not None:
                raise ValueError("method 'edges' takes edges, not bins")
        else:
            if self.bins is None:
                raise ValueError(f"method '{self.method}' needs bins")
            if self.edges is not None:
                raise ValueError(f"method '{self.method}' takes bins, not edges")
        return self


class Text(_Step):
    """String operations: lower, upper, trim, regex_extract (a group), regex_replace."""

    op: Literal["text"]
    column: str = Field(min_length=1)
    func: Literal["lower", "upper", "trim", "regex_extract", "regex_replace"]
    pattern: str | None = None
    replacement: str | None = None
    group: int = Field(default=0, ge=0)
    output: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Text:
        if self.func.startswith("regex"):
            if not self.pattern:
                raise ValueError(f"func '{self.func}' needs a pattern")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        elif self.pattern is not None:
            raise ValueError(f"func '{self.func}' takes no pattern")
        if self.func == "regex_replace" and self.replacement is None:
            raise ValueError("func 'regex_replace' needs a replacement")
        return self


DATETIME_FEATURES = (
    "year",
    "month",
    "day",
    "day_of_week",
    "is_weekend",
    "hour",
    "minute",
    "date",
    "part_of_day",
)

# Default parts of the day, [start_hour, end_hour) in local time; hours not covered are "night".
DEFAULT_PARTS_OF_DAY: dict[str, tuple[int, int]] = {
    "night": (0, 7),
    "morning_rush": (7, 10),
    "midday": (10, 16),
    "evening_rush": (16, 19),
    "evening": (19, 24),
}


class DateTime(_Step):
    """Features of a timestamp in a timezone: year, month, day, day_of_week (0 = Monday),
    is_weekend, hour, minute, date, part_of_day. Naive timestamps are taken as UTC."""

    op: Literal["datetime"]
    column: str = Field(min_length=1)
    features: tuple[Literal[DATETIME_FEATURES], ...]  # type: ignore[valid-type]
    timezone: str = "UTC"
    prefix: str | None = None
    parts_of_day: dict[str, tuple[int, int]] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{v}' (use an IANA name such as 'Europe/Paris')") from None
        return v

    @field_validator("parts_of_day")
    @classmethod
    def _parts(cls, v: dict[str, tuple[int, int]] | None) -> dict[str, tuple[int, int]] | None:
        if v is None:
            return v
        for name, (start, end) in v.items():
            if not (0 <= start < end <= 24):
                raise ValueError(f"part '{name}' must be [start, end) hours with 0 <= start < end <= 24")
        return v

    @field_validator("features")
    @classmethod
    def _some(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("needs at least one feature")
        return v


class TableRef(BaseModel):
    """Another table to join with: a catalog table by name, or files by path."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str | None = None
    path: str | None = None
    format: Literal["csv", "json", "jsonl", "parquet"] | None = None

    @model_validator(mode="after")
    def _one(self) -> TableRef:
        if (self.table is None) == (self.path is None):
            raise ValueError("give exactly one of 'table' (a catalog table) or 'path' (files)")
        return self


class Join(_Step):
    """Join with another table on key columns; right-hand columns that clash get `suffix`."""

    op: Literal["join"]
    with_: TableRef = Field(alias="with")
    on: tuple[str, ...] | dict[str, str]
    how: Literal["inner", "left", "right", "full", "semi", "anti"] = "left"
    columns: tuple[str, ...] | None = None
    suffix: str = "_right"

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("on")
    @classmethod
    def _keys(cls, v: tuple[str, ...] | dict[str, str]) -> tuple[str, ...] | dict[str, str]:
        if not v:
            raise ValueError("needs at least one key column")
        return v

    def key_pairs(self) -> list[tuple[str, str]]:
        if isinstance(self.on, dict):
            return list(self.on.items())
        return [(k, k) for k in self.on]


AGGREGATES = ("count", "sum", "avg", "mean", "min", "max", "median", "std", "count_distinct")


class Aggregation(BaseModel):
    """One aggregate: `func` over `column` (count may omit the column) named `name`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    func: Literal[AGGREGATES]  # type: ignore[valid-type]
    column: str | None = None
    name: str = Field(min_length=1)

    @model_validator(mode="after")
    def _column_needed(self) -> Aggregation:
        if self.column is None and self.func != "count":
            raise ValueError(f"aggregate '{self.func}' needs a column")
        return self


class GroupBy(_Step):
    """Group rows by keys and compute aggregates; the result has one row per group."""

    op: Literal["group_by"]
    keys: tuple[str, ...]
    aggregations: tuple[Aggregation, ...]
    _check = field_validator("keys")(_non_empty_names)

    @field_validator("aggregations")
    @classmethod
    def _some(cls, v: tuple[Aggregation, ...]) -> tuple[Aggregation, ...]:
        if not v:
            raise ValueError("needs at least one aggregation")
        return v


class Window(_Step):
    """Rolling aggregates per key over a trailing time range ending at each row
    (`range` before the row's `time` up to and including it)."""

    op: Literal["window"]
    keys: tuple[str, ...] = ()
    time: str = Field(min_length=1)
    range: str
    aggregations: tuple[Aggregation, ...]

    @field_validator("range")
    @classmethod
    def _interval(cls, v: str) -> str:
        if not _INTERVAL_RE.match(v.strip()):
            raise ValueError(f"'{v}' is not an interval such as '1 hour' or '7 days'")
        return v.strip()

    @field_validator("aggregations")
    @classmethod
    def _supported(cls, v: tuple[Aggregation, ...]) -> tuple[Aggregation, ...]:
        if not v:
            raise ValueError("needs at least one aggregation")
        for agg in v:
            if agg.func in ("count_distinct", "median"):
                raise ValueError(f"aggregate '{agg.func}' is not supported in a window")
        return v


class Sql(_Step):
    """A SQL query over the previous step's rows, which it reads as the table `input`."""

    op: Literal["sql"]
    query: str = Field(min_length=1)


class Python(_Step):
    """A Python function 'module:callable' applied to each Arrow record batch; it returns a
    RecordBatch or Table, with the same columns for every batch."""

    op: Literal["python"]
    function: str
    batch_size: int = Field(default=65_536, ge=1)

    @field_validator("function")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not _CALLABLE_RE.match(v):
            raise ValueError(f"'{v}' is not a 'module:callable' reference")
        return v


Step = Annotated[
    Select
    | Drop
    | Rename
    | Cast
    | Filter
    | Dedupe
    | Fill
    | OneHot
    | Ordinal
    | Scale
    | Bin
    | Text
    | DateTime
    | Join
    | GroupBy
    | Window
    | Sql
    | Python,
    Field(discriminator="op"),
]

OPS = (
    "select", "drop", "rename", "cast", "filter", "dedupe", "fill", "onehot", "ordinal",
    "scale", "bin", "text", "datetime", "join", "group_by", "window", "sql", "python",
)
