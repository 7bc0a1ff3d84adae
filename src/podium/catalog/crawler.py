"""The crawler: infer a table's format, schema and `key=value/` partitions from its
files, and record a new schema version in the catalog when they changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import duckdb
from sqlalchemy import select

from podium.catalog.schema import Column, SchemaChange
from podium.catalog.tables import CatalogTable, put_table
from podium.errors import ConflictError, ValidationError
from podium.ingest.batch.sources import list_files
from podium.prep.engine import connect, ensure_filesystem
from podium.prep.readers import ReadOptions, detect_format, read_sql
from podium.store import Store
from podium.store.tables.catalog import catalog_tables


@dataclass(frozen=True)
class CrawlResult:
    """What a crawl found and recorded."""

    table: CatalogTable
    created: bool
    change: SchemaChange | None
    files: int


def _root(location: str) -> str:
    """The folder part of a location before any glob character."""
    cut = min((location.find(ch) for ch in "*?[" if ch in location), default=-1)
    base = location if cut < 0 else location[:cut]
    return base.rstrip("/") if cut < 0 else base.rsplit("/", 1)[0]


def partition_keys(root: str, paths: list[str]) -> tuple[str, ...]:
    """The `key=value` folder names between `root` and each file; all files must agree."""
    found: dict[tuple[str, ...], str] = {}
    for path in paths:
        rel = PurePosixPath(path[len(root):].lstrip("/")) if path.startswith(root) else PurePosixPath(path)
        keys = tuple(part.split("=", 1)[0] for part in rel.parts[:-1] if "=" in part)
        found.setdefault(keys, path)
    if len(found) > 1:
        sample = "; ".join(f"{list(k)} (e.g. {p})" for k, p in found.items())
        raise ValidationError(f"files under {root} disagree on partition folders: {sample}")
    return next(iter(found), ())


def crawl(
    store: Store,
    location: str,
    *,
    name: str | None = None,
    format: str | None = None,
    read: ReadOptions | None = None,
    description: str | None = None,
) -> CrawlResult:
    """Crawl `location` (a folder, file or glob) into the catalog table `name` (default:
    the folder's name)."""
    files = list_files(location)
    if not files:
        raise ValidationError(f"no data files at {location}")
    paths = [f.path for f in files]
    fmt = format or detect_format(paths[0])
    mixed = sorted({detect_format(p) for p in paths}) if format is None else [fmt]
    if len(mixed) > 1:
        raise ValidationError(f"files at {location} have several formats {mixed}; give format or a glob")
    root = _root(location)
    keys = partition_keys(root, paths)
    opts = (read or ReadOptions()).model_copy(update={"format": fmt})
    con = connect()
    try:
        ensure_filesystem(con, location)
        rel = con.sql(f"SELECT * FROM {read_sql(paths, opts, hive=bool(keys))}")
        described = list(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    except duckdb.Error as exc:
        raise ValidationError(f"cannot infer the schema of {location}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    # Data columns first, then partition keys in folder order.
    types = dict(described)
    columns = [Column(n, t) for n, t in described if n not in keys] + [Column(k, types[k]) for k in keys]
    table_name = name or PurePosixPath(root.split("://", 1)[-1]).name or "table"
    with store.begin() as conn:
        existing = conn.execute(
            select(catalog_tables.c.managed_by).where(catalog_tables.c.name == table_name)
        ).scalar_one_or_none()
        if existing is not None:
            raise ConflictError(
                f"table '{table_name}' is written by batch job '{existing}', which records its schema "
                "on every run; crawl into another name (--name) instead"
            )
        result = put_table(
            conn, table_name, location=location, format=fmt, columns=columns, partition_keys=keys,
            files=len(files), read_options=opts, description=description,
        )
    return CrawlResult(result.table, result.created, result.change, len(files))
