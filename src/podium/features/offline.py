"""The offline store: an append-only log of every write, as Parquet under the lake.

Layout: <lake>/features/offline/<group>/event_date=YYYY-MM-DD/part-<ingestion>-<uuid>.parquet,
partitioned by the UTC date of the event time. Besides the group's features each row
carries `write_time`, `api_invocation_time`, `is_deleted` (deletion markers) and
`ingestion_id`/`ingestion_row`, which order rows written at the same write time.

Files are never modified. Each appears atomically: it is written under a hidden temporary
name in its partition directory and renamed, so readers (which list `*.parquet`) see a
file whole or not at all.

Compaction (`compact`) merges the small files of a partition into one
`compact-<ingestion>-<uuid>.parquet` whose Parquet key-value metadata lists the files it
replaces. Readers skip every file a visible compacted file replaces, so the moment the
compacted file appears (one rename) they read it instead of the small files, and before
that they read the small files: never both, never neither. The replaced files are deleted
afterwards; a read that listed them just before fails with "no such file" and is run again
by the caller (FeatureStore._reading), and files left by a crash between rename and delete
are skipped by readers and deleted by the next compaction.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import fsspec
import pyarrow.parquet as pq

from podium.features.group import FeatureGroup
from podium.features.session import quote_ident, quote_literal
from podium.features.types import duckdb_type

REPLACES_KEY = "podium_replaces"
_PART = re.compile(r"^part-(\d+)-")
_COMPACT_PREFIX = "compact-"

LOG_COLUMNS = (
    ("write_time", "TIMESTAMPTZ"),
    ("api_invocation_time", "TIMESTAMPTZ"),
    ("is_deleted", "BOOLEAN"),
    ("ingestion_id", "BIGINT"),
    ("ingestion_row", "BIGINT"),
)


class OfflineStore:
    """Appends group rows as Parquet files in the lake and exposes them to DuckDB."""

    def __init__(self, lake_url: str, staging_dir: Path) -> None:
        self.fs, root = fsspec.core.url_to_fs(lake_url)
        self.local = "file" in _protocols(self.fs)
        self.root = root.rstrip("/") + "/features/offline"
        self.staging_dir = staging_dir
        self._replaces_cache: dict[str, tuple[str, ...]] = {}

    def group_root(self, group: str) -> str:
        return f"{self.root}/{group}"

    def append(
        self, con: duckdb.DuckDBPyConnection, group: str, relation: str, ingestion_id: int
    ) -> list[str]:
        """Write the rows of `relation` (a SQL SELECT with the group's columns, the log
        columns and `event_date`) as new files, one per event date; returns their paths."""
        staging = self.staging_dir / f"ingestion-{ingestion_id}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            # snappy: about twice as fast as zstd to write and faster to decode in joins;
            # the files are somewhat larger.
            con.execute(
                f"COPY ({relation}) TO {quote_literal(str(staging))} "
                "(FORMAT parquet, PARTITION_BY (event_date), COMPRESSION snappy, "
                f"FILENAME_PATTERN 'part-{ingestion_id:012d}-{{uuid}}')"
            )
            published = []
            for produced in sorted(staging.glob("event_date=*/*.parquet")):
                published.append(self._publish(
                    produced, f"{self.group_root(group)}/{produced.parent.name}/{produced.name}"
                ))
            return published
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _publish(self, local_file: Path, final: str) -> str:
        parent = final.rsplit("/", 1)[0]
        hidden = f"{parent}/.{local_file.name}.tmp"
        self.fs.makedirs(parent, exist_ok=True)
        if self.local:
            shutil.move(str(local_file), hidden)
        else:
            self.fs.put_file(str(local_file), hidden)
        self.fs.mv(hidden, final)
        return final

    def all_files(self, group: str) -> list[str]:
        """Every visible Parquet file of the group, replaced ones included."""
        pattern = f"{self.group_root(group)}/event_date=*/*.parquet"
        return sorted(self.fs.glob(pattern))

    def files(self, group: str) -> list[str]:
        """The files a reader reads: every visible file that no compacted file replaces."""
        found = self.all_files(group)
        replaced = self._replaced(found)
        return [f for f in found if f not in replaced]

    def _replaced(self, found: Iterable[str]) -> set[str]:
        replaced: set[str] = set()
        for path in found:
            name = path.rsplit("/", 1)[-1]
            if name.startswith(_COMPACT_PREFIX):
                parent = path.rsplit("/", 1)[0]
                replaced.update(f"{parent}/{n}" for n in self._replaces(path))
        return replaced

    def _replaces(self, path: str) -> tuple[str, ...]:
        """The file names (in its partition) that the compacted file at `path` replaces.
        Files are immutable, so the answer is cached."""
        cached = self._replaces_cache.get(path)
        if cached is None:
            with self.fs.open(path, "rb") as handle:
                metadata = pq.read_metadata(handle).metadata or {}
            cached = tuple(json.loads(metadata.get(REPLACES_KEY.encode(), b"[]")))
            self._replaces_cache[path] = cached
        return cached

    def ingestion_files(self, group: str, ingestion_id: int) -> list[str]:
        """The files one ingestion wrote (not yet merged by compaction)."""
        return [f for f in self.all_files(group) if ingestion_of(f) == ingestion_id]

    def remove(self, paths: Iterable[str]) -> int:
        removed = 0
        for path in paths:
            if self.fs.exists(path):
                self.fs.rm(path)
                removed += 1
        return removed

    def compact(
        self,
        con: duckdb.DuckDBPyConnection,
        group: FeatureGroup,
        mergeable: Callable[[int], bool],
        *,
        min_files: int = 2,
        after_publish: Callable[[str], None] | None = None,
    ) -> CompactionResult:
        """Merge each partition's small files into one file, atomically for readers.

        Only files of ingestions for which `mergeable(ingestion_id)` holds (completed ones)
        and earlier compacted files are merged; files of writes in flight or abandoned stay
        apart so that they can still be removed by ingestion. A partition is merged when it
        has at least `min_files` such files. Rows are kept byte for byte (same columns and
        values), so training sets are unchanged. Replaced files left over by a crash are
        deleted."""
        result = CompactionResult(group.name)
        found = self.all_files(group.name)
        replaced = self._replaced(found)
        result.garbage_removed = self.remove(sorted(replaced))
        partitions: dict[str, list[str]] = {}
        merged: list[str] = []
        for path in found:
            if path not in replaced:
                partitions.setdefault(path.rsplit("/", 1)[0], []).append(path)
        for parent, paths in sorted(partitions.items()):
            result.files_before += len(paths)
            chosen = [p for p in paths if _mergeable_file(p, mergeable)]
            if len(chosen) < max(min_files, 2):
                result.files_after += len(paths)
                continue
            newest = max(_file_ingestion(p) for p in chosen)
            names = [p.rsplit("/", 1)[-1] for p in chosen]
            staged = self.staging_dir / f"compact-{uuid.uuid4().hex}.parquet"
            staged.parent.mkdir(parents=True, exist_ok=True)
            urls = ", ".join(quote_literal(self._duckdb_path(con, p)) for p in chosen)
            try:
                rows = con.execute(
                    f"COPY (SELECT * FROM read_parquet([{urls}], union_by_name = true, "
                    "hive_partitioning = false) ORDER BY ingestion_id, ingestion_row) "
                    f"TO {quote_literal(str(staged))} (FORMAT parquet, COMPRESSION snappy, "
                    f"KV_METADATA {{{REPLACES_KEY}: {quote_literal(json.dumps(names))}}})"
                ).fetchone()
                final = self._publish(staged, f"{parent}/{_COMPACT_PREFIX}{newest:012d}-{uuid.uuid4().hex}.parquet")
            finally:
                staged.unlink(missing_ok=True)
            if after_publish is not None:
                after_publish(final)  # tests stop here to leave the state a crash would
            merged.extend(chosen)
            result.partitions += 1
            result.files_merged += len(chosen)
            result.rows += int(rows[0]) if rows else 0
            result.files_after += len(paths) - len(chosen) + 1
        # Deleted together at the end: a reader racing this compaction misses files (and
        # reads again) at most once.
        self.remove(merged)
        return result

    def has_data(self, group: str) -> bool:
        return bool(self.all_files(group))

    def purge(self, group: str) -> None:
        root = self.group_root(group)
        if self.fs.exists(root):
            self.fs.rm(root, recursive=True)

    def relation(self, con: duckdb.DuckDBPyConnection, group: FeatureGroup) -> str:
        """A SQL SELECT of every offline row of `group`: declared columns typed as declared,
        features added after a file was written read as null, then the log columns."""
        files = self.files(group.name)
        typed = [(f.name, duckdb_type(f.type)) for f in group.features] + list(LOG_COLUMNS)
        if not files:
            empty = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(n)}" for n, t in typed)
            return f"(SELECT {empty} WHERE FALSE)"
        urls = [self._duckdb_path(con, f) for f in files]
        source = (
            f"read_parquet([{', '.join(quote_literal(u) for u in urls)}], "
            "union_by_name = true, hive_partitioning = false)"
        )
        present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        columns = ", ".join(
            f"CAST({quote_ident(n) if n in present else 'NULL'} AS {t}) AS {quote_ident(n)}"
            for n, t in typed
        )
        return f"(SELECT {columns} FROM {source})"

    def _duckdb_path(self, con: duckdb.DuckDBPyConnection, path: str) -> str:
        if self.local:
            return path
        # DuckDB reads other fsspec filesystems through the registered filesystem object.
        if not con.filesystem_is_registered(self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]):
            con.register_filesystem(self.fs)
        protocol = _protocols(self.fs)[0]
        return f"{protocol}://{path}"


@dataclass
class CompactionResult:
    """What one compaction did to a group's offline files."""

    group: str
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    files_merged: int = 0
    rows: int = 0
    garbage_removed: int = 0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def ingestion_of(path: str) -> int | None:
    """The ingestion id of a file one write produced (None for compacted files)."""
    match = _PART.match(path.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def _file_ingestion(path: str) -> int:
    name = path.rsplit("/", 1)[-1]
    match = _PART.match(name) or re.match(r"^compact-(\d+)-", name)
    return int(match.group(1)) if match else 0


def _mergeable_file(path: str, mergeable: Callable[[int], bool]) -> bool:
    if path.rsplit("/", 1)[-1].startswith(_COMPACT_PREFIX):
        return True
    ingestion = ingestion_of(path)
    return ingestion is not None and mergeable(ingestion)


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
