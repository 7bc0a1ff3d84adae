"""Run the engine's hot statements straight on the DB-API connection.

A durable transition is a handful of tiny statements; on SQLite, SQLAlchemy's per-execution
machinery (cache lookup, parameter processing, result setup, events) costs 10-20x what
SQLite itself takes for each of them. `Sql` wraps a SQLAlchemy Core statement, compiles it
once per dialect to its SQL text (named parameters on SQLite, pyformat on psycopg) and runs
it on the connection's driver cursor inside the caller's SQLAlchemy transaction. Bind
processors are still applied (SQLite stores datetimes as text), so rows read back through
SQLAlchemy are what it would have written itself.

Only statements without expanding parameters are supported (write `IN` as `any_of`), and callers pass every
column of an INSERT (SQLAlchemy's Python-side defaults do not run here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Connection, Float, or_
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

_SQLITE_NAMED = sqlite.dialect(paramstyle="named")
# Types whose bind processor SQLite does not need: a FLOAT column stores an int as REAL by its
# affinity, and the driver stores a bool as 1/0 (the processors only convert, per row).
_SQLITE_NATIVE = (Float, Boolean)


class _Compiled(NamedTuple):
    text: str
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    fixed: dict[str, Any]


class Sql:
    """One statement, compiled once per dialect, executed on the raw driver connection."""

    __slots__ = ("_compiled", "_names", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        # The result's column names per dialect (one statement, one set of columns), once read.
        self._names: dict[str, tuple[str, ...]] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        hit = self._compiled.get(dialect.name)
        if hit is None:
            compiled = self.statement.compile(  # type: ignore[attr-defined]
                dialect=_SQLITE_NAMED if dialect.name == "sqlite" else dialect
            )
            if compiled.positional:
                raise ValueError(f"{dialect.name}: fastsql needs a named or pyformat paramstyle")
            processors = tuple(
                (name, process) for name, process in compiled._bind_processors.items()  # noqa: SLF001
                if not (dialect.name == "sqlite" and isinstance(compiled.binds[name].type, _SQLITE_NATIVE))
            )
            # Values bound when the statement was built (e.g. a literal LIMIT) are sent too.
            fixed = {name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required}
            hit = _Compiled(compiled.string, processors, fixed)
            self._compiled[dialect.name] = hit
        return hit

    def execute(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """Run with one parameter set; returns the driver cursor (rowcount, fetch*)."""
        # Inlined (the compiled-statement lookup, the processors, the driver): a transition runs
        # a dozen statements, and each Python call here costs about what SQLite spends on one.
        hit = self._compiled.get(connection.dialect.name) or self._compile(connection.dialect)
        text, processors, fixed = hit
        values = {**fixed, **params} if fixed and params else fixed or params or {}
        if processors:
            values = _processed(values, processors)
        pooled = connection._dbapi_connection  # noqa: SLF001 - see driver_of
        driver: Any = pooled.dbapi_connection if pooled is not None else driver_of(connection)
        cursor = driver.cursor()
        cursor.execute(text, values)
        return cursor

    def executemany(
        self, connection: Connection, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
    ) -> None:
        """Run once per row. `shared`: values every row has (the execution, a transition's
        timestamp), bound once and added to each row (their keys are not in `rows`)."""
        if not rows:
            return
        text, processors, fixed = self._compiled.get(connection.dialect.name) or self._compile(connection.dialect)
        if shared:
            common = {**fixed, **shared} if fixed else shared
            if processors:
                common = _processed(common, processors)
                rest = []
                for name, process in processors:
                    if name not in common:
                        rest.append((name, process))
                processors = tuple(rest)
            rows = [{**common, **row} for row in rows]
        elif fixed:
            rows = [{**fixed, **row} for row in rows]
        if processors:
            # The rows of one call mostly share their datetimes (a transition's history events
            # carry one timestamp): convert each distinct object once.
            memo: dict[tuple[str, int], Any] = {}
            rows = [_processed(row, processors, memo) for row in rows]
        pooled = connection._dbapi_connection  # noqa: SLF001 - see driver_of
        driver: Any = pooled.dbapi_connection if pooled is not None else driver_of(connection)
        cursor = driver.cursor()
        cursor.executemany(text, rows)
        cursor.close()

    def rowcount(self, connection: Connection, params: Mapping[str, Any] | None = None) -> int:
        cursor = self.execute(connection, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def first(self, connection: Connection, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The first row as a dict (column name -> value), or None."""
        cursor = self.execute(connection, params)
        row = cursor.fetchone()
        if row is None:
            cursor.close()
            return None
        names = self._names.get(connection.dialect.name)
        if names is None:
            names = self._names[connection.dialect.name] = tuple([column[0] for column in cursor.description])
        cursor.close()
        return dict(zip(names, row, strict=True))

    def all(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.execute(connection, params)
        rows = cursor.fetchall()
        names = [column[0] for column in cursor.description] if cursor.description else []
        cursor.close()
        return [dict(zip(names, row, strict=True)) for row in rows]

    def scalars(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        cursor = self.execute(connection, params)
        values = [row[0] for row in cursor.fetchall()]
        cursor.close()
        return values


def driver_of(connection: Connection) -> Any:
    """The DB-API connection under `connection`: its pooled connection's plain attribute when
    it holds one (`connection.connection.driver_connection` is three property calls, and a
    transition runs a dozen statements); sync drivers only, where the two are the same."""
    pooled = connection._dbapi_connection  # noqa: SLF001
    if pooled is None:  # invalidated: let SQLAlchemy reconnect (or raise)
        return connection.connection.driver_connection
    return pooled.dbapi_connection


def any_of(column: Any, values: Sequence[Any]) -> Any:
    """`column IN values` with one plain bound parameter per value (no expanding IN)."""
    return or_(*(column == value for value in values))


def _processed(
    params: Mapping[str, Any],
    processors: tuple[tuple[str, Callable[[Any], Any]], ...],
    memo: dict[tuple[str, int], Any] | None = None,
) -> Mapping[str, Any]:
    if not processors:
        return params
    values = dict(params)
    for name, process in processors:
        if name in values:
            value = values[name]
            if memo is None or value is None:
                values[name] = process(value)
                continue
            key = (name, id(value))
            if key not in memo:
                memo[key] = (value, process(value))  # the value is kept: its id stays unique
            values[name] = memo[key][1]
    return values
