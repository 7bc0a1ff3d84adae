"""Schema contracts: the rules rows must meet to be written (types, required columns,
allowed values, ranges, patterns, uniqueness), compiled to one SQL expression that names
every rule a row breaks.

A contract is checked after the recipe. A required column missing from the recipe's
output is a broken schema, not bad data: the run fails before anything is written.
Rows that break a rule are quarantined with the reason; rows that pass are cast to the
contract's types.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from podium.errors import ValidationError
from podium.prep.quoting import ident, literal

REASON_COLUMN = "_podium_reason"
_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$")


class ColumnRule(BaseModel):
    """Rules for one column; all optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str | None = None
    required: bool = False
    allowed: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    unique: bool = False

    @field_validator("type")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        if v is not None and not _TYPE_RE.match(v.strip()):
            raise ValueError(f"'{v}' is not a type name")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _range(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Contract(BaseModel):
    """Column rules plus compound unique keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    unique: tuple[tuple[str, ...], ...] = ()
    allow_extra_columns: bool = True

    def unique_keys(self) -> list[tuple[str, ...]]:
        keys = [(name,) for name, rule in self.columns.items() if rule.unique]
        return keys + [k for k in self.unique if k not in keys]


def check_schema(contract: Contract, columns: tuple[str, ...]) -> None:
    """Fail when the recipe output cannot meet the contract at all."""
    present = set(columns)
    missing = [n for n, r in contract.columns.items() if r.required and n not in present]
    missing += [c for key in contract.unique for c in key if c not in present and c not in missing]
    if missing:
        raise ValidationError(
            f"contract: required column(s) {missing} are missing from the recipe output "
            f"(it has {[c for c in columns if not c.startswith('_podium_')]})"
        )
    if not contract.allow_extra_columns:
        extra = [c for c in columns if c not in contract.columns and not c.startswith("_podium_")]
        if extra:
            raise ValidationError(f"contract: columns {extra} are not in the contract")


def _text(v: Any) -> str:
    return str(v).replace("'", "''")


def reason_sql(contract: Contract, columns: tuple[str, ...], order: tuple[str, ...]) -> str:
    """An expression that is NULL for a good row and otherwise lists the broken rules.

    `order` (provenance columns) decides which row of a duplicate key is kept: the first.
    """
    present = set(columns)
    checks: list[str] = []
    for name, rule in contract.columns.items():
        if name not in present:
            continue
        col = ident(name)
        label = name.replace("'", "''")
        if rule.required:
            checks.append(f"CASE WHEN {col} IS NULL THEN '{label}: missing' END")
        if rule.type is not None:
            checks.append(
                f"CASE WHEN {col} IS NOT NULL AND TRY_CAST({col} AS {rule.type}) IS NULL "
                f"THEN '{label}: ' || CAST({col} AS VARCHAR) || ' is not {_text(rule.type)}' END"
            )
        typed = f"TRY_CAST({col} AS {rule.type})" if rule.type else col
        if rule.allowed is not None:
            values = ", ".join(literal(str(v)) for v in rule.allowed)
            checks.append(
                f"CASE WHEN {col} IS NOT NULL AND CAST({col} AS VARCHAR) NOT IN ({values}) "
                f"THEN '{label}: ' || CAST({col} AS VARCHAR) || ' is not an allowed value' END"
            )
        if rule.min is not None:
            checks.append(
                f"CASE WHEN TRY_CAST({typed} AS DOUBLE) < {rule.min!r} "
                f"THEN '{label}: ' || CAST({col} AS VARCHAR) || ' is below {rule.min!r}' END"
            )
        if rule.max is not None:
            checks.append(
                f"CASE WHEN TRY_CAST({typed} AS DOUBLE) > {rule.max!r} "
                f"THEN '{label}: ' || CAST({col} AS VARCHAR) || ' is above {rule.max!r}' END"
            )
        if rule.pattern is not None:
            checks.append(
                f"CASE WHEN {col} IS NOT NULL AND NOT regexp_full_match(CAST({col} AS VARCHAR), {literal(rule.pattern)}) "
                f"THEN '{label}: ' || CAST({col} AS VARCHAR) || ' does not match the pattern' END"
            )
    tie = ", ".join(ident(c) for c in order if c in present) or "1"
    for key in contract.unique_keys():
        part = ", ".join(ident(c) for c in key)
        label = ", ".join(key).replace("'", "''")
        checks.append(
            f"CASE WHEN row_number() OVER (PARTITION BY {part} ORDER BY {tie}) > 1 "
            f"THEN 'duplicate key ({label})' END"
        )
    if not checks:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(concat_ws('; ', {', '.join(checks)}), '')"


def cast_sql(contract: Contract, columns: tuple[str, ...]) -> str:
    """The select list that casts good rows to the contract's types."""
    present = set(columns)
    typed = {n: r.type for n, r in contract.columns.items() if r.type and n in present}
    if not typed:
        return "*"
    body = ", ".join(f"CAST({ident(n)} AS {t}) AS {ident(n)}" for n, t in typed.items())
    return f"* REPLACE ({body})"
