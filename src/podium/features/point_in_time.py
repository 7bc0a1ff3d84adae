"""Point-in-time correct joins: the feature values each entity row would have seen.

For every entity row (keys + a timestamp) and every source, the winner is the source row
with the same keys whose event time is <= the entity time, taking the greatest
(event_time, *order) — so among equal event times the later write wins, and among equal
writes the later ingestion and row. The winner is then checked: older than the TTL
(event_time < entity_time - ttl, so exactly TTL old still counts) gives nulls with status
`expired`; a deletion marker gives nulls with `deleted`; no candidate at all gives
`no_data`. Entity rows are never dropped or merged and come back in input order.

The join is one DuckDB ASOF join per source on a struct (event_time, *order), so ties are
broken inside the join without a separate deduplication pass, and DuckDB can spill to disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from podium.errors import ValidationError
from podium.features.session import quote_ident, quote_literal

STATUS_OK = "ok"
STATUS_NO_DATA = "no_data"
STATUS_EXPIRED = "expired"
STATUS_DELETED = "deleted"
STATUSES = (STATUS_OK, STATUS_NO_DATA, STATUS_EXPIRED, STATUS_DELETED)

ROW_COLUMN = "__podium_row"
TS_COLUMN = "__podium_ts"
ENTITY_VIEW = "__podium_entity"

# The largest value of each tie-breaker type: the entity side of the ASOF inequality uses
# it so that every source row with event_time == entity_time qualifies whatever it was
# written at.
_ORDER_MAX = {"TIMESTAMPTZ": "'infinity'::TIMESTAMPTZ", "BIGINT": "9223372036854775807::BIGINT"}


@dataclass(frozen=True)
class OutputFeature:
    """A source column to return: its name in the source, its declared type, its output name."""

    column: str
    sql_type: str
    output: str


@dataclass(frozen=True)
class PitSource:
    """One side of the join: rows with keys, an event time and feature columns.

    `relation` is anything DuckDB accepts after FROM (a view name, `read_parquet(...)`).
    `order` lists tie-breakers after the event time as (SQL expression, type) pairs with
    type TIMESTAMPTZ or BIGINT; the greatest wins. `deleted`, when given, is a boolean
    expression marking deletion markers. `filters` are SQL predicates applied to the
    source rows before the join (as_of, event-time ranges).
    """

    name: str
    relation: str
    keys: tuple[str, ...]
    entity_keys: tuple[str, ...]
    event_time: str
    order: tuple[tuple[str, str], ...]
    features: tuple[OutputFeature, ...]
    status_column: str
    ttl_seconds: int | None = None
    deleted: str | None = None
    filters: tuple[str, ...] = ()


def entity_arrow(entity: Any) -> pa.Table:
    """An entity table given as pandas or Arrow, as Arrow."""
    if isinstance(entity, pa.Table):
        return entity
    if isinstance(entity, pd.DataFrame):
        return pa.Table.from_pandas(entity, preserve_index=False)
    raise ValidationError(
        f"entity table must be a pandas DataFrame, an Arrow table or a Parquet path, "
        f"not {type(entity).__name__}"
    )


def register_entity(con: duckdb.DuckDBPyConnection, entity: Any, timestamp: str) -> list[str]:
    """Expose `entity` as the view ENTITY_VIEW with a row number and a UTC timestamp.

    Returns the entity's own column names (passed through to the output). A Parquet path
    (or glob) is read by DuckDB directly so a large entity table never enters Python.
    """
    if isinstance(entity, str | Path):
        source = f"read_parquet({quote_literal(str(entity))}, filename = true, file_row_number = true)"
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except duckdb.Error as exc:
            raise ValidationError(f"entity table {str(entity)!r} cannot be read: {exc}") from None
        columns = [row[0] for row in described if row[0] not in ("filename", "file_row_number")]
        body = (
            f"SELECT * EXCLUDE (filename, file_row_number), "
            f"row_number() OVER (ORDER BY filename, file_row_number) - 1 AS {ROW_COLUMN} FROM {source}"
        )
    else:
        table = entity_arrow(entity)
        columns = list(table.column_names)
        _check_entity_columns(columns)
        table = table.append_column(ROW_COLUMN, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        con.register("__podium_entity_arrow", table)
        body = "SELECT * FROM __podium_entity_arrow"
    _check_entity_columns(columns)
    if timestamp not in columns:
        raise ValidationError(
            f"entity table has no timestamp column '{timestamp}'; its columns are: {', '.join(columns)}"
        )
    ts = quote_ident(timestamp)
    # A time zone-less entity timestamp is taken as UTC (the session zone).
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ENTITY_VIEW} AS "
        f"SELECT *, CAST({ts} AS TIMESTAMPTZ) AS {TS_COLUMN} FROM ({body})"
    )
    return columns


def _check_entity_columns(columns: Sequence[str]) -> None:
    for column in columns:
        if column.startswith("__podium"):
            raise ValidationError(f"entity column '{column}': names starting __podium are reserved")


def training_set_sql(entity_columns: Sequence[str], sources: Sequence[PitSource]) -> str:
    """The SQL of the point-in-time join of ENTITY_VIEW with `sources`, in entity order."""
    outputs = list(entity_columns)
    select = [f"e.{quote_ident(c)}" for c in entity_columns]
    joins = []
    for index, source in enumerate(sources):
        alias = f"f{index}"
        missing = [k for k in source.entity_keys if k not in entity_columns]
        if missing:
            raise ValidationError(
                f"entity table lacks key column(s) {', '.join(missing)} needed by '{source.name}'"
            )
        fresh = f"{alias}.__t >= e.{TS_COLUMN} - to_seconds({source.ttl_seconds})" if source.ttl_seconds else "TRUE"
        served = f"({fresh}) AND NOT {alias}.__d"
        for feature in source.features:
            select.append(
                f"CASE WHEN {served} THEN {alias}.{quote_ident(feature.output)} END "
                f"AS {quote_ident(feature.output)}"
            )
            outputs.append(feature.output)
        select.append(
            f"CASE WHEN {alias}.__t IS NULL THEN '{STATUS_NO_DATA}' "
            f"WHEN NOT ({fresh}) THEN '{STATUS_EXPIRED}' "
            f"WHEN {alias}.__d THEN '{STATUS_DELETED}' ELSE '{STATUS_OK}' END "
            f"AS {quote_ident(source.status_column)}"
        )
        outputs.append(source.status_column)
        joins.append(_asof_join(alias, source))
    duplicates = sorted({c for c in outputs if outputs.count(c) > 1})
    if duplicates:
        raise ValidationError(
            f"output column(s) {', '.join(duplicates)} would appear twice; rename the entity "
            "column(s) or ask for full feature names (group__feature)"
        )
    return (
        f"SELECT {', '.join(select)} FROM {ENTITY_VIEW} e "
        + " ".join(joins)
        + f" ORDER BY e.{ROW_COLUMN}"
    )


def _asof_join(alias: str, source: PitSource) -> str:
    event = f"CAST({quote_ident(source.event_time)} AS TIMESTAMPTZ)"
    order_fields = [f"t := {event}"] + [
        f"o{i} := CAST({expr} AS {sql_type})" for i, (expr, sql_type) in enumerate(source.order)
    ]
    probe_fields = [f"t := e.{TS_COLUMN}"] + [
        f"o{i} := {_ORDER_MAX[sql_type]}" for i, (_, sql_type) in enumerate(source.order)
    ]
    inner = [f"{quote_ident(k)} AS __k{i}" for i, k in enumerate(source.keys)]
    inner.append(f"struct_pack({', '.join(order_fields)}) AS __ord")
    inner.append(f"{event} AS __t")
    inner.append(f"COALESCE({source.deleted}, FALSE) AS __d" if source.deleted else "FALSE AS __d")
    inner += [
        f"CAST({quote_ident(f.column)} AS {f.sql_type}) AS {quote_ident(f.output)}"
        for f in source.features
    ]
    predicates = [f"{quote_ident(source.event_time)} IS NOT NULL", *source.filters]
    where = f" WHERE {' AND '.join(f'({p})' for p in predicates)}"
    conditions = [f"e.{quote_ident(ek)} = {alias}.__k{i}" for i, ek in enumerate(source.entity_keys)]
    # A struct with a NULL field still compares (NULL sorts last), so a NULL entity time
    # would match the newest row: make the whole probe NULL instead, which matches nothing.
    conditions.append(
        f"(CASE WHEN e.{TS_COLUMN} IS NULL THEN NULL ELSE struct_pack({', '.join(probe_fields)}) END)"
        f" >= {alias}.__ord"
    )
    return (
        f"ASOF LEFT JOIN (SELECT {', '.join(inner)} FROM {source.relation}{where}) {alias} "
        f"ON {' AND '.join(conditions)}"
    )


def status_counts(table: pa.Table, status_columns: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per status column, how many rows have each status (all statuses listed)."""
    counts: dict[str, dict[str, int]] = {}
    for column in status_columns:
        found = {s: 0 for s in STATUSES}
        for item in table.column(column).value_counts().to_pylist():
            found[item["values"]] = item["counts"]
        counts[column] = found
    return counts
