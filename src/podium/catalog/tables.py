"""Catalog tables: where a table's files are, their format and partition keys, and every
version of its schema. Functions taking a `Connection` run inside the caller's
transaction (a batch job registers its output in the same commit as its files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
from sqlalchemy import Connection, delete, insert, select, update

from podium.catalog.schema import Column, SchemaChange, columns_from, diff
from podium.errors import NotFoundError, ValidationError
from podium.prep.quoting import ident
from podium.prep.readers import ReadOptions, read_sql
from podium.store import Store
from podium.store.tables.catalog import catalog_schema_versions, catalog_tables


@dataclass(frozen=True)
class CatalogTable:
    """A table and its current schema."""

    name: str
    location: str
    format: str
    partition_keys: tuple[str, ...]
    read_options: ReadOptions
    version: int
    columns: tuple[Column, ...]
    managed_by: str | None
    dataset: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "format": self.format,
            "partition_keys": list(self.partition_keys),
            "version": self.version,
            "columns": [c.to_dict() for c in self.columns],
            "managed_by": self.managed_by,
            "dataset": self.dataset,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class SchemaVersion:
    """One recorded schema version and what changed from the one before."""

    table: str
    version: int
    columns: tuple[Column, ...]
    partition_keys: tuple[str, ...]
    changes: dict[str, Any]
    files: int
    created_at: datetime


@dataclass(frozen=True)
class PutResult:
    """What `put_table` did: created the table, added a version, or changed nothing."""

    table: CatalogTable
    created: bool
    change: SchemaChange | None


def _load(conn: Connection, name: str) -> CatalogTable:
    row = conn.execute(select(catalog_tables).where(catalog_tables.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"catalog table '{name}' does not exist; see `podium catalog tables`")
    ver = conn.execute(
        select(catalog_schema_versions.c.columns).where(
            catalog_schema_versions.c.table_name == name,
            catalog_schema_versions.c.version == row.current_version,
        )
    ).scalar_one()
    return CatalogTable(
        row.name, row.location, row.format, tuple(row.partition_keys),
        ReadOptions.model_validate(row.read_options), int(row.current_version),
        tuple(columns_from(ver)), row.managed_by, row.dataset, row.description,
        row.created_at, row.updated_at,
    )


def get_table(store: Store, name: str) -> CatalogTable:
    with store.connect() as conn:
        return _load(conn, name)


def list_tables(store: Store) -> list[CatalogTable]:
    with store.connect() as conn:
        names = conn.execute(select(catalog_tables.c.name).order_by(catalog_tables.c.name)).scalars().all()
        return [_load(conn, n) for n in names]


def versions(store: Store, name: str) -> list[SchemaVersion]:
    """Every schema version of the table, oldest first."""
    with store.connect() as conn:
        _load(conn, name)
        rows = conn.execute(
            select(catalog_schema_versions)
            .where(catalog_schema_versions.c.table_name == name)
            .order_by(catalog_schema_versions.c.version)
        ).all()
    return [
        SchemaVersion(r.table_name, int(r.version), tuple(columns_from(r.columns)), tuple(r.partition_keys),
                      r.changes, int(r.files), r.created_at)
        for r in rows
    ]


def put_table(
    conn: Connection,
    name: str,
    *,
    location: str,
    format: str,
    columns: list[Column],
    partition_keys: tuple[str, ...] = (),
    files: int = 0,
    read_options: ReadOptions | None = None,
    managed_by: str | None = None,
    dataset: str | None = None,
    description: str | None = None,
) -> PutResult:
    """Create the table, or record a new schema version when columns or partition keys
    changed; location and options are updated either way."""
    if not name or len(name) > 128:
        raise ValidationError("a catalog table name has 1 to 128 characters")
    now = datetime.now(UTC)
    opts = (read_options or ReadOptions()).model_dump(mode="json")
    row = conn.execute(select(catalog_tables).where(catalog_tables.c.name == name)).first()
    cols = [c.to_dict() for c in columns]
    if row is None:
        conn.execute(
            insert(catalog_tables).values(
                name=name, location=location, format=format, partition_keys=list(partition_keys),
                read_options=opts, current_version=1, description=description, managed_by=managed_by,
                dataset=dataset, created_at=now, updated_at=now,
            )
        )
        _add_version(conn, name, 1, cols, partition_keys, SchemaChange(added=tuple(columns)), files, now)
        return PutResult(_load(conn, name), True, None)
    current = _load(conn, name)
    change = diff(list(current.columns), columns, current.partition_keys, partition_keys)
    version = current.version
    if not change.empty:
        version += 1
        _add_version(conn, name, version, cols, partition_keys, change, files, now)
    conn.execute(
        update(catalog_tables)
        .where(catalog_tables.c.name == name)
        .values(
            location=location, format=format, partition_keys=list(partition_keys), read_options=opts,
            current_version=version, managed_by=managed_by, dataset=dataset,
            description=description if description is not None else current.description, updated_at=now,
        )
    )
    return PutResult(_load(conn, name), False, None if change.empty else change)


def _add_version(
    conn: Connection, name: str, version: int, cols: list[dict[str, str]], keys: tuple[str, ...],
    change: SchemaChange, files: int, now: datetime,
) -> None:
    conn.execute(
        insert(catalog_schema_versions).values(
            table_name=name, version=version, columns=cols, partition_keys=list(keys),
            changes=change.to_dict(), files=files, created_at=now,
        )
    )


def drop_table(store: Store, name: str) -> None:
    """Remove the table from the catalog (its files are left alone)."""
    with store.begin() as conn:
        _load(conn, name)
        conn.execute(delete(catalog_schema_versions).where(catalog_schema_versions.c.table_name == name))
        conn.execute(delete(catalog_tables).where(catalog_tables.c.name == name))


def scan_sql(store: Store, name: str, con: duckdb.DuckDBPyConnection) -> str:
    """A table expression reading the catalog table. Tables written by batch jobs are
    read from their committed manifest, so a run in progress or a crashed one is never
    seen; other tables are read from their location with `key=value` partitions."""
    from podium.prep.engine import ensure_filesystem

    table = get_table(store, name)
    ensure_filesystem(con, table.location)
    hive = bool(table.partition_keys)
    if table.dataset is not None:
        from podium.ingest.batch.datasets import committed_files

        files = committed_files(store, table.dataset)
        if files:
            return read_sql(files, ReadOptions(format="parquet"), hive=hive)
        cols = ", ".join(f"CAST(NULL AS {c.type}) AS {ident(c.name)}" for c in table.columns)
        return f"(SELECT {cols} WHERE FALSE)"
    pattern = table.location.rstrip("/")
    if not any(ch in pattern for ch in "*?["):
        pattern += _GLOBS.get(table.format, "/**/*")
    opts = table.read_options.model_copy(update={"format": table.format})
    return read_sql([pattern], opts, hive=hive)


_GLOBS = {"parquet": "/**/*.parquet", "csv": "/**/*.csv*", "jsonl": "/**/*.jsonl*", "json": "/**/*.json*"}
