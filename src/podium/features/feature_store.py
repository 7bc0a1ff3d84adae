"""FeatureStore: the SageMaker Feature Store stand-in — groups, ingestion, online reads,
point-in-time training sets and SQL over the offline store.

    fs = FeatureStore(settings, store)
    fs.create_group("customers", record_identifiers="customer_id", event_time="ts",
                    features={"customer_id": "int64", "ts": "timestamp", "spend": "float64"},
                    ttl={"Unit": "Days", "Value": 7})
    fs.ingest("customers", dataframe)
    fs.get_record("customers", 42)
    fs.training_set(entity_df, ["customers"], timestamp="ts").to_pandas()

Every rule (point-in-time window, TTL, ties, deletes, online TTL) is in docs/features.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from podium.config import Settings
from podium.errors import ConflictError, ValidationError
from podium.features import lineage as lineage_kinds
from podium.features.group import Feature, FeatureGroup, define_group, parse_features
from podium.features.lineage import Lineage
from podium.features.offline import CompactionResult, OfflineStore
from podium.features.online import OnlineRecord, OnlineStore, open_online_store
from podium.features.point_in_time import (
    OutputFeature,
    PitSource,
    register_entity,
    status_counts,
    training_set_sql,
)
from podium.features.records import cast_column, conform, to_arrow
from podium.features.registry import GroupRegistry
from podium.features.session import (
    DEFAULT_MEMORY_LIMIT,
    DuckDBLimits,
    open_duckdb,
    quote_ident,
    quote_literal,
)
from podium.features.types import duckdb_type
from podium.store import Store

ONLINE = "online"
OFFLINE = "offline"
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_ORDER = (("write_time", "TIMESTAMPTZ"), ("ingestion_id", "BIGINT"), ("ingestion_row", "BIGINT"))
# How long a cached group definition is trusted before being read again, so online reads
# never wait on the metadata database but still see definitions changed elsewhere.
DEFINITION_CACHE_SECONDS = 5.0
# Rows per slice of the online update: bounds the memory of a very large write.
WRITE_BATCH_ROWS = 1_000_000
# A read of the offline store that lost a file to a concurrent compaction is run again.
READ_ATTEMPTS = 8
_T = TypeVar("_T")


@dataclass(frozen=True)
class IngestResult:
    """What one write did: its ingestion id, rows logged offline, online records replaced
    (an entity updated by two slices of one large write counts twice), files written."""

    ingestion_id: int
    rows: int
    rows_online: int
    files: tuple[str, ...] = ()


@dataclass
class TrainingSet:
    """A built training set: the table (None when written to `output`), counts and lineage id."""

    table: pa.Table | None
    rows: int
    status_counts: dict[str, dict[str, int]]
    lineage_id: int
    output: str | None = None
    columns: list[str] = field(default_factory=list)

    def to_pandas(self) -> pd.DataFrame:
        """As pandas with nullable dtypes, so an int64 feature with nulls stays Int64."""
        table = self.table if self.table is not None else pq.read_table(self.output)
        return table.to_pandas(types_mapper=_NULLABLE.get)


_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


class FeatureStore:
    """Feature groups with an offline log in the lake and an online latest-value store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        online_store: OnlineStore | None = None,
        online_ttl: bool = True,
        memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
        threads: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = GroupRegistry(store)
        self.lineage = Lineage(store)
        self.offline = OfflineStore(settings.lake_url, settings.path("tmp", "features-staging"))
        self._online = online_store
        # False restores Feast's behaviour: online reads return values however old.
        self.online_ttl = online_ttl
        self.limits = DuckDBLimits(memory_limit, settings.path("tmp", "duckdb"), threads)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cache: dict[str, tuple[float, FeatureGroup]] = {}
        self._readers: dict[str, OnlineReader] = {}

    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            self._online = open_online_store(self.settings.online_store_url)
        return self._online

    def close(self) -> None:
        if self._online is not None:
            self._online.close()

    # ---- groups -----------------------------------------------------------------------

    def create_group(self, name: str, **definition: Any) -> FeatureGroup:
        """Define a group (see group.define_group for the fields); ConflictError if taken."""
        group = define_group(name, **definition)
        if self.offline.has_data(name):
            raise ConflictError(
                f"feature group '{name}': offline data from an earlier group of that name is "
                f"still in the lake; delete_group('{name}', purge_data=True) or pick another name"
            )
        created = self.registry.create(group)
        self._cache.pop(name, None)
        return created

    def describe_group(self, name: str, version: int | None = None) -> FeatureGroup:
        return self.registry.get(name, version)

    def list_groups(self) -> list[FeatureGroup]:
        return self.registry.all()

    def add_features(self, name: str, features: Any) -> FeatureGroup:
        """Add features as a new schema version; rows written before read them as null."""
        updated = self.registry.add_features(name, parse_features(features))
        self._cache.pop(name, None)
        return updated

    def delete_group(self, name: str, *, purge_data: bool = False) -> None:
        """Delete the definition and the online records. Offline data stays in the lake (as
        in SageMaker) unless `purge_data`; a group of the same name cannot be created while
        it is there."""
        self.registry.get(name)
        self.online.drop_group(name)
        if purge_data:
            self.offline.purge(name)
        self.registry.delete(name)
        self._cache.pop(name, None)

    def _group(self, name: str, *, fresh: bool = False) -> FeatureGroup:
        """The group's definition; cached for online reads, read afresh (`fresh`) by writes
        so that a feature added by another process is accepted at once."""
        cached = self._cache.get(name)
        now = time.monotonic()
        if not fresh and cached and now - cached[0] < DEFINITION_CACHE_SECONDS:
            return cached[1]
        group = self.registry.get(name)
        if cached and cached[1] == group:
            group = cached[1]  # keep the identity so the compiled OnlineReader is reused
        self._cache[name] = (now, group)
        return group

    # ---- writes -----------------------------------------------------------------------

    def ingest(
        self,
        name: str,
        data: Any,
        *,
        source: str = "python",
        write_time_column: str | None = None,
        target_stores: Sequence[str] | None = None,
    ) -> IngestResult:
        """Write rows (Arrow, pandas, records, a Parquet path). Every row goes to the offline log; per entity
        the newest row goes online if newer than what is there (older rows are history).

        `write_time_column` names an input timestamp column to record as each row's write
        time instead of now — for backfills that must keep the source's ordering (e.g.
        Feast's `created` column)."""
        if isinstance(data, str | Path) and source == "python":
            source = str(data)
        return self._write(name, data, kind=lineage_kinds.KIND_INGEST, source=source,
                           write_time_column=write_time_column, target_stores=target_stores)

    def put_record(
        self, name: str, record: Mapping[str, Any], *, target_stores: Sequence[str] | None = None
    ) -> IngestResult:
        """Write one record (SageMaker PutRecord): a full overwrite of the entity's record."""
        return self._write(name, [record], kind=lineage_kinds.KIND_PUT_RECORD,
                           source="put_record", target_stores=target_stores)

    def delete_record(self, name: str, key: Any, event_time: Any, *, mode: str = "soft") -> IngestResult:
        """Delete an entity's record as of `event_time` (SageMaker DeleteRecord).

        Both modes append a deletion marker (is_deleted = true, features null) offline, so
        training sets at or after `event_time` see the entity as deleted. Online, "soft"
        leaves a tombstone that blocks older late writes; "hard" removes the entity entirely.
        """
        if mode not in ("soft", "hard"):
            raise ValidationError(f"delete mode {mode!r} must be 'soft' or 'hard'")
        group = self._group(name)
        marker = dict(zip(group.record_identifiers, self._reader(name).key_values(key), strict=True))
        marker[group.event_time] = event_time
        return self._write(name, [marker], kind=lineage_kinds.KIND_DELETE, source=f"delete:{mode}",
                           deletion=mode)

    def ingest_catalog_table(
        self,
        name: str,
        table: str,
        *,
        columns: Mapping[str, str] | None = None,
        where: str | None = None,
        write_time_column: str | None = None,
        target_stores: Sequence[str] | None = None,
    ) -> IngestResult:
        """Ingest the rows of a catalog table (podium.catalog), read by DuckDB.

        The table's columns named like the group's features are taken; `columns` maps
        feature -> table column where the names differ; other table columns are ignored
        (listed in the lineage details). `where` is a SQL filter on the table's columns.
        A table a batch job manages is read from its committed files only."""
        from podium.catalog import get_table, scan_sql

        group = self._group(name, fresh=True)
        info = get_table(self.registry.store, table)
        con = open_duckdb(self.limits)
        try:
            relation = scan_sql(self.registry.store, table, con)
            data, ignored = _select_features(con, group, relation, f"catalog table '{table}'",
                                             columns, where, write_time_column)
        finally:
            con.close()
        return self._write(name, data, kind=lineage_kinds.KIND_CATALOG,
                           source=f"catalog:{table}@v{info.version}",
                           write_time_column=write_time_column, target_stores=target_stores,
                           details={"catalog_table": table, "table_version": info.version,
                                    "ignored_columns": ignored})

    def ingest_batch_output(
        self,
        name: str,
        run_id: str | None = None,
        *,
        job: str | None = None,
        columns: Mapping[str, str] | None = None,
        where: str | None = None,
        write_time_column: str | None = None,
        target_stores: Sequence[str] | None = None,
    ) -> IngestResult:
        """Ingest what one batch job run (podium.ingest.batch) wrote: the files its commit
        recorded, never files of a run in progress or a failed one. Give `run_id`, or `job`
        for its latest successful run. Columns are matched as in `ingest_catalog_table`;
        the job's partition columns come back from the `key=value` folders."""
        from podium.ingest.batch.datasets import run_files
        from podium.ingest.batch.runner import get_run, list_runs
        from podium.prep.engine import ensure_filesystem
        from podium.prep.readers import ReadOptions, read_sql

        store = self.registry.store
        if run_id is None:
            if job is None:
                raise ValidationError("give the batch run's id, or job= for its latest successful run")
            succeeded = [r for r in list_runs(store, job, limit=1000) if r["status"] == "SUCCEEDED"]
            if not succeeded:
                raise ValidationError(f"batch job '{job}' has no successful run to ingest")
            run_id = str(succeeded[0]["id"])
        run = get_run(store, run_id)
        if job is not None and run["job_name"] != job:
            raise ValidationError(f"batch run '{run_id}' belongs to job '{run['job_name']}', not '{job}'")
        if run["status"] != "SUCCEEDED":
            raise ValidationError(
                f"batch run '{run_id}' of job '{run['job_name']}' is {run['status']}; "
                "only a SUCCEEDED run's output is committed"
            )
        files = run_files(store, run_id)
        source = f"batch:{run['job_name']}/{run_id}"
        details = {"job": run["job_name"], "run_id": run_id, "source_files": len(files)}
        if not files:  # a run that wrote nothing: recorded, nothing to write
            return self._record_empty(name, lineage_kinds.KIND_BATCH, source, details)
        group = self._group(name, fresh=True)
        con = open_duckdb(self.limits)
        try:
            ensure_filesystem(con, files[0])
            relation = read_sql(files, ReadOptions(format="parquet"), hive=True)
            data, ignored = _select_features(con, group, relation, f"batch run '{run_id}'",
                                             columns, where, write_time_column)
        finally:
            con.close()
        return self._write(name, data, kind=lineage_kinds.KIND_BATCH, source=source,
                           write_time_column=write_time_column, target_stores=target_stores,
                           details={**details, "ignored_columns": ignored})

    def ingest_stream(self, name: str, consumer: Any, **options: Any) -> Any:
        """Ingest records from a stream consumer (podium.ingest.streams.consumer.Consumer)
        until it is idle or stopped, once per checkpoint; bad records are quarantined.
        See podium.features.streaming.StreamIngestor for the options and the rules."""
        from podium.features.streaming import StreamIngestor

        max_batches = options.pop("max_batches", None)
        return StreamIngestor(self, name, consumer, **options).run(max_batches=max_batches)

    def _record_empty(
        self, name: str, kind: str, source: str, details: Mapping[str, Any]
    ) -> IngestResult:
        """Record a write that had no rows to store (lineage only)."""
        group = self._group(name, fresh=True)
        ingestion_id = self.lineage.start_ingestion(name, group.version, kind, source, self.clock())
        self.lineage.finish_ingestion(ingestion_id, 0, 0, {"files": 0, **details})
        return IngestResult(ingestion_id, 0, 0)

    def compact(
        self, name: str, *, min_files: int = 2, after_publish: Callable[[str], None] | None = None
    ) -> CompactionResult:
        """Merge each event-date partition's small offline files into one (see offline.py):
        readers see the old files or the merged one, never a mix; rows are unchanged."""
        group = self._group(name, fresh=True)
        if min_files < 2:
            raise ValidationError(f"min_files {min_files} must be at least 2")
        completed = self.lineage.completed_ids(name)
        con = open_duckdb(self.limits)
        try:
            return self.offline.compact(con, group, completed.__contains__, min_files=min_files,
                                        after_publish=after_publish)
        finally:
            con.close()

    def _reading(self, action: Callable[[duckdb.DuckDBPyConnection], _T]) -> _T:
        """Run `action` on a fresh DuckDB connection; again (with the files listed anew) if a
        concurrent compaction removed a file it had listed."""
        for attempt in range(READ_ATTEMPTS):
            con = open_duckdb(self.limits)
            try:
                return action(con)
            except (duckdb.IOException, FileNotFoundError) as exc:
                if attempt + 1 == READ_ATTEMPTS or not _missing_file(exc, self.offline.root):
                    raise
            finally:
                con.close()
        raise AssertionError("unreachable")

    def _write(
        self,
        name: str,
        data: Any,
        *,
        kind: str,
        source: str,
        write_time_column: str | None = None,
        target_stores: Sequence[str] | None = None,
        deletion: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> IngestResult:
        group = self._group(name, fresh=True)
        targets = set(target_stores or (ONLINE, OFFLINE))
        if not targets <= {ONLINE, OFFLINE}:
            raise ValidationError(f"target_stores {sorted(targets)} must be among 'online', 'offline'")
        table = conform(group, to_arrow(data, name),
                        extra_columns=(write_time_column,) if write_time_column else ())
        now = self.clock()
        if write_time_column:
            if write_time_column not in table.column_names:
                raise ValidationError(f"write_time_column '{write_time_column}' is not in the data")
            write_time = cast_column(name, write_time_column, "timestamp",
                                     table.column(write_time_column))
            if write_time.null_count:
                raise ValidationError(f"write_time_column '{write_time_column}' has nulls")
            table = table.drop_columns([write_time_column])
        else:
            write_time = pa.repeat(pa.scalar(now, _TIMESTAMP), table.num_rows)
        rows = table.num_rows
        ingestion_id = self.lineage.start_ingestion(name, group.version, kind, source, now)
        files: list[str] = []
        stored = 0
        try:
            log = (
                table.append_column("write_time", write_time)
                .append_column("api_invocation_time", pa.repeat(pa.scalar(now, _TIMESTAMP), rows))
                .append_column("is_deleted", pa.repeat(pa.scalar(deletion is not None), rows))
                .append_column("ingestion_id", pa.repeat(pa.scalar(ingestion_id, pa.int64()), rows))
                .append_column("ingestion_row", pa.array(np.arange(rows, dtype=np.int64)))
            )
            con = open_duckdb(self.limits)
            try:
                if group.offline_enabled and OFFLINE in targets:
                    # One COPY for the whole write: one file per event date, however large.
                    con.register("__podium_batch", log)
                    event = quote_ident(group.event_time)
                    files = self.offline.append(
                        con, name,
                        f"SELECT *, strftime({event}, '%Y-%m-%d') AS event_date FROM __podium_batch",
                        ingestion_id,
                    )
                    con.unregister("__podium_batch")
                if group.online_enabled and ONLINE in targets:
                    # The online update goes slice by slice so that finding each entity's newest
                    # row never needs much memory; slices are in row order, so the conditional
                    # writes give the same result as one pass.
                    for offset in range(0, rows, WRITE_BATCH_ROWS):
                        stored += self._write_online(con, group, log.slice(offset, WRITE_BATCH_ROWS),
                                                     deletion)
            finally:
                con.close()
            self.lineage.finish_ingestion(ingestion_id, rows, stored, {"files": len(files), **(details or {})})
        except BaseException as exc:
            self.lineage.fail_ingestion(ingestion_id, str(exc)[:500])
            raise
        return IngestResult(ingestion_id, rows, stored, tuple(files))

    def _write_online(
        self, con: duckdb.DuckDBPyConnection, group: FeatureGroup, log: pa.Table, deletion: str | None
    ) -> int:
        """Apply one slice of a write to the online store; returns records replaced."""
        if deletion == "hard":
            return self.online.remove(group.name, [encode_key(k) for k in _key_tuples(group, log)])
        con.register("__podium_slice", log)
        try:
            latest = _latest_per_key(con, group, "__podium_slice")
        finally:
            con.unregister("__podium_slice")
        return self.online.put_latest(group.name, self._online_items(group, latest))

    def materialize(self, name: str, start: Any = None, end: Any = None) -> IngestResult:
        """Load the online store from the offline log: per entity, the newest row with
        start <= event_time <= end. Never regresses: an entity whose online record is newer
        keeps it (unlike Feast's unconditional upsert)."""
        group = self._group(name)
        now = self.clock()
        ingestion_id = self.lineage.start_ingestion(
            name, group.version, lineage_kinds.KIND_MATERIALIZE, f"offline:{start}..{end}", now
        )
        try:
            filters = _event_filters(group.event_time, start, end)
            where = f" WHERE {' AND '.join(filters)}" if filters else ""
            latest = self._reading(lambda con: _latest_per_key(
                con, group, f"(SELECT * FROM {self.offline.relation(con, group)}{where})"
            ))
            stored = self.online.put_latest(name, self._online_items(group, latest))
            self.lineage.finish_ingestion(ingestion_id, latest.num_rows, stored)
        except BaseException as exc:
            self.lineage.fail_ingestion(ingestion_id, str(exc)[:500])
            raise
        return IngestResult(ingestion_id, latest.num_rows, stored)

    def _online_items(self, group: FeatureGroup, latest: pa.Table) -> list[tuple[str, OnlineRecord]]:
        keys = _key_tuples(group, latest)
        event = latest.column("__event_us").to_pylist()
        written = latest.column("__write_us").to_pylist()
        ingestion = latest.column("ingestion_id").to_pylist()
        row = latest.column("ingestion_row").to_pylist()
        payload = latest.column("__payload").to_pylist()
        return [
            (encode_key(keys[i]), OnlineRecord(event[i], written[i], ingestion[i], row[i], payload[i]))
            for i in range(latest.num_rows)
        ]

    # ---- online reads -----------------------------------------------------------------

    def get_record(self, name: str, key: Any, features: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The entity's current record (SageMaker GetRecord), or None when unknown, deleted,
        or older than the TTL at the time of reading (unless online_ttl=False)."""
        reader = self._reader(name)
        values = reader.key_values(key)
        found = self.online.get(name, reader.encode_key(values))
        return reader.served(values, found, reader.selection(features), self._ttl_now_us())

    def get_records(
        self, name: str, keys: Sequence[Any], features: Sequence[str] | None = None
    ) -> list[dict[str, Any] | None]:
        """get_record for many keys in one round trip, in the order given."""
        reader = self._reader(name)
        key_values = [reader.key_values(k) for k in keys]
        found = self.online.get_many(name, [reader.encode_key(v) for v in key_values])
        wanted, oldest = reader.selection(features), self._ttl_now_us()
        return reader.served_many(key_values, found, wanted, oldest)

    def _reader(self, name: str) -> OnlineReader:
        group = self._group(name)
        reader = self._readers.get(name)
        if reader is None or reader.group is not group:
            reader = self._readers[name] = OnlineReader(group)
        return reader

    def _ttl_now_us(self) -> int | None:
        """The time TTL is checked against on read (None: TTL off, serve any age)."""
        return _to_us(self.clock()) if self.online_ttl else None

    # ---- training sets and SQL ----------------------------------------------------------

    def training_set(
        self,
        entity: Any,
        features: Sequence[str],
        *,
        timestamp: str = "event_timestamp",
        as_of: datetime | None = None,
        event_time_range: tuple[Any, Any] | None = None,
        full_feature_names: bool = False,
        entity_keys: Mapping[str, Sequence[str]] | None = None,
        output: str | Path | None = None,
    ) -> TrainingSet:
        """The point-in-time correct training set for `entity` (pandas, Arrow or a Parquet
        path with key columns and `timestamp`): per entity row and group, the latest values
        with event_time <= entity time and within the TTL; rows kept in input order; a
        `<group>__status` column per group says ok / no_data / expired / deleted.

        `features`: "group" (all its features) or "group:feature". `as_of` keeps only what
        had been written by then; `event_time_range` (start, end) keeps only rows with
        start <= event_time <= end. `output` writes Parquet instead of returning the table
        (bounded memory however large)."""
        started = time.perf_counter()
        selection = self._parse_refs(features)
        start, end = event_time_range or (None, None)

        def build(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table | None, dict[str, dict[str, int]], int]:
            columns = register_entity(con, entity, timestamp)
            sources = []
            for group, chosen in selection:
                filters = list(_event_filters(group.event_time, start, end))
                if as_of is not None:
                    filters.append(f"write_time <= {_ts_literal(as_of)}")
                sources.append(PitSource(
                    name=group.name,
                    relation=self.offline.relation(con, group),
                    keys=group.record_identifiers,
                    entity_keys=tuple((entity_keys or {}).get(group.name, group.record_identifiers)),
                    event_time=group.event_time,
                    order=_ORDER,
                    features=tuple(
                        OutputFeature(f.name, duckdb_type(f.type),
                                      f"{group.name}__{f.name}" if full_feature_names else f.name)
                        for f in chosen
                    ),
                    status_column=f"{group.name}__status",
                    ttl_seconds=group.ttl_seconds,
                    deleted="is_deleted",
                    filters=tuple(filters),
                ))
            sql = training_set_sql(columns, sources)
            status_columns = [s.status_column for s in sources]
            try:
                if output is None:
                    table = con.sql(sql).to_arrow_table()
                    return table, status_counts(table, status_columns), table.num_rows
                con.execute(f"COPY ({sql}) TO {quote_literal(str(output))} (FORMAT parquet)")
                summary = con.sql(
                    f"SELECT * FROM read_parquet({quote_literal(str(output))})"
                ).select(*[quote_ident(c) for c in status_columns]).to_arrow_table()
                return None, status_counts(summary, status_columns), summary.num_rows
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.IOException) and _missing_file(exc, self.offline.root):
                    raise  # a file compacted away meanwhile: _reading runs it again
                raise ValidationError(f"training set query failed: {exc}") from None

        table, counts, rows = self._reading(build)
        lineage_id = self.lineage.record_training_set(
            groups=[{"name": g.name, "version": g.version, "features": [f.name for f in c]}
                    for g, c in selection],
            entity_source=str(entity) if isinstance(entity, str | Path) else type(entity).__name__,
            rows=rows, status_counts=counts, as_of=as_of,
            event_time_range=(_as_datetime(start), _as_datetime(end)),
            output=str(output) if output is not None else None,
            duration_seconds=time.perf_counter() - started,
        )
        return TrainingSet(table, rows, counts, lineage_id, str(output) if output else None,
                           list(table.column_names) if table is not None else [])

    def _parse_refs(self, refs: Sequence[str]) -> list[tuple[FeatureGroup, list[Feature]]]:
        if isinstance(refs, str):
            refs = [refs]
        chosen: dict[str, tuple[FeatureGroup, list[Feature]]] = {}
        for ref in refs:
            group_name, _, feature_name = ref.partition(":")
            if group_name not in chosen:
                chosen[group_name] = (self.registry.get(group_name), [])
            group, features = chosen[group_name]
            picked = list(group.value_features) if feature_name in ("", "*") else [group.feature(feature_name)]
            fixed = {*group.record_identifiers, group.event_time}
            for feature in picked:
                if feature.name in fixed:
                    raise ValidationError(
                        f"'{ref}': record identifiers and the event time are not features to join"
                    )
                if feature not in features:
                    features.append(feature)
        if not chosen:
            raise ValidationError("name at least one feature group or feature ('group' or 'group:feature')")
        return list(chosen.values())

    def query(self, sql: str, *, groups: Sequence[str] | None = None) -> pa.Table:
        """Run DuckDB SQL over the offline store: each group is a view of the same name with
        every logged row (write_time, is_deleted, ... included)."""
        chosen = self.list_groups() if groups is None else [self.registry.get(g) for g in groups]

        def run(con: duckdb.DuckDBPyConnection) -> pa.Table:
            for group in chosen:
                con.execute(f"CREATE TEMP VIEW {quote_ident(group.name)} AS SELECT * FROM "
                            f"{self.offline.relation(con, group)}")
            try:
                return con.sql(sql).to_arrow_table()
            except (duckdb.Error, AttributeError) as exc:
                if isinstance(exc, duckdb.IOException) and _missing_file(exc, self.offline.root):
                    raise
                raise ValidationError(f"query failed: {exc}") from None

        return self._reading(run)


def encode_key(values: tuple[Any, ...]) -> str:
    """The online store key of a record identifier (one part: the value itself)."""
    if len(values) == 1:
        return str(values[0])
    return json.dumps(list(values), separators=(",", ":"))


class OnlineReader:
    """Turns a group's stored online records into records to serve; built once per group
    version so that a read does no definition lookups."""

    def __init__(self, group: FeatureGroup) -> None:
        self.group = group
        self.key_names = group.record_identifiers
        self.key_is_int = tuple(group.feature(k).type == "int64" for k in self.key_names)
        self.single_key_type: type | None = (
            (int if self.key_is_int[0] else str) if len(self.key_names) == 1 else None
        )
        self.value_names = tuple(f.name for f in group.value_features)
        self.timestamps = frozenset(f.name for f in group.value_features if f.type == "timestamp")
        self.ttl_us = group.ttl_seconds * 1_000_000 if group.ttl_seconds else None

    def selection(self, features: Sequence[str] | None) -> tuple[str, ...]:
        if features is None:
            return self.value_names
        for name in features:
            if name not in self.value_names:
                raise ValidationError(
                    f"feature group '{self.group.name}' has no feature '{name}' to read; "
                    f"it has: {', '.join(self.value_names)}"
                )
        return tuple(features)

    def key_values(self, key: Any) -> tuple[Any, ...]:
        if self.single_key_type is not None and type(key) is self.single_key_type:
            return (key,)  # the common case, checked without the general path below
        names = self.key_names
        if isinstance(key, Mapping):
            missing = [k for k in names if k not in key]
            if missing:
                raise ValidationError(f"feature group '{self.group.name}': key lacks {', '.join(missing)}")
            raw = tuple(key[k] for k in names)
        elif isinstance(key, tuple | list):
            raw = tuple(key)
        else:
            raw = (key,)
        if len(raw) != len(names):
            raise ValidationError(
                f"feature group '{self.group.name}': a key has {len(names)} part(s) "
                f"({', '.join(names)}), got {len(raw)}"
            )
        out: list[Any] = []
        for part, name, is_int in zip(raw, names, self.key_is_int, strict=True):
            if is_int:
                if isinstance(part, bool) or not isinstance(part, int | float | np.integer) or int(part) != part:
                    raise ValidationError(
                        f"feature group '{self.group.name}': key '{name}' must be int64, got {part!r}"
                    )
                out.append(int(part))
            else:
                out.append(str(part))
        return tuple(out)

    encode_key = staticmethod(encode_key)

    def served(
        self, key: tuple[Any, ...], record: OnlineRecord | None, wanted: tuple[str, ...],
        now_us: int | None,
    ) -> dict[str, Any] | None:
        return self.served_many([key], [record], wanted, now_us)[0]

    def served_many(
        self, keys: Sequence[tuple[Any, ...]], records: Sequence[OnlineRecord | None],
        wanted: tuple[str, ...], now_us: int | None,
    ) -> list[dict[str, Any] | None]:
        """The records to serve: None for missing, tombstoned or expired ones."""
        oldest = now_us - self.ttl_us if now_us is not None and self.ttl_us is not None else None
        live = [
            i for i, r in enumerate(records)
            # Exactly TTL old is still served, as in training sets.
            if r is not None and r.payload is not None and (oldest is None or r.event_time_us >= oldest)
        ]
        out: list[dict[str, Any] | None] = [None] * len(records)
        if not live:
            return out
        # One JSON parse for the whole batch instead of one per record.
        decoded = json.loads("[" + ",".join(records[i].payload for i in live) + "]")  # type: ignore[misc, union-attr]
        plain = wanted is self.value_names and not self.timestamps
        event_time = self.group.event_time
        for i, stored in zip(live, decoded, strict=True):
            record = records[i]
            assert record is not None
            result: dict[str, Any] = dict(zip(self.key_names, keys[i], strict=True))
            result[event_time] = _from_us(record.event_time_us)
            if plain and len(stored) == len(wanted):
                # The common case, written under the current version: nothing to convert.
                result.update(stored)
            else:
                for name in wanted:
                    value = stored.get(name)
                    if value is not None and name in self.timestamps:
                        value = _from_us(value)
                    result[name] = value
            out[i] = result
        return out


def _latest_per_key(con: duckdb.DuckDBPyConnection, group: FeatureGroup, relation: str) -> pa.Table:
    """Per entity the newest row of `relation`, with its online payload built in SQL (JSON of
    the value features, timestamps as epoch microseconds; NULL for a deletion marker)."""
    keys = ", ".join(quote_ident(k) for k in group.record_identifiers)
    event = quote_ident(group.event_time)
    fields = ", ".join(
        f"{quote_ident(f.name)} := "
        + (f"epoch_us({quote_ident(f.name)})" if f.type == "timestamp" else quote_ident(f.name))
        for f in group.value_features
    )
    payload = f"to_json(struct_pack({fields}))" if fields else "'{}'"
    return con.sql(
        f"SELECT {keys}, epoch_us({event}) AS __event_us, epoch_us(write_time) AS __write_us, "
        f"ingestion_id, ingestion_row, "
        f"CASE WHEN is_deleted THEN NULL ELSE CAST({payload} AS VARCHAR) END AS __payload "
        f"FROM {relation} QUALIFY row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY {event} DESC, write_time DESC, ingestion_id DESC, ingestion_row DESC) = 1"
    ).to_arrow_table()


def _missing_file(exc: BaseException, offline_root: str) -> bool:
    """Whether `exc` says an offline store file listed for reading was gone (compacted away
    meanwhile); a missing file of the caller's own (an entity table, a path in SQL) is not."""
    text = str(exc)
    if offline_root not in text:
        return False
    return isinstance(exc, FileNotFoundError) or "No files found" in text or "No such file" in text


def _select_features(
    con: duckdb.DuckDBPyConnection,
    group: FeatureGroup,
    relation: str,
    what: str,
    columns: Mapping[str, str] | None,
    where: str | None,
    write_time_column: str | None,
) -> tuple[pa.Table, list[str]]:
    """The rows of `relation` (catalog table, batch output) as the group's feature columns,
    and the source columns left out. A feature is read from the column `columns` maps it
    to, else from the column of its own name when there is one (missing value features are
    null; missing identifiers are caught by conform)."""
    try:
        available = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    except duckdb.Error as exc:
        raise ValidationError(f"{what} cannot be read: {exc}") from None
    mapping = dict(columns or {})
    unknown = [f for f in mapping if f not in {g.name for g in group.features}]
    if unknown:
        raise ValidationError(f"columns= names {', '.join(unknown)}, not features of '{group.name}'")
    picked: list[str] = []
    used: set[str] = set()
    claimed = set(mapping.values())  # a column mapped to a feature feeds only that feature
    for feature in group.features:
        source = mapping.get(feature.name, feature.name)
        if feature.name not in mapping and source in claimed:
            continue
        if source in available:
            picked.append(f"{quote_ident(source)} AS {quote_ident(feature.name)}")
            used.add(source)
        elif feature.name in mapping:
            raise ValidationError(
                f"{what} has no column '{source}' (mapped to feature '{feature.name}'); "
                f"its columns are: {', '.join(available)}"
            )
    if write_time_column:
        if write_time_column not in available:
            raise ValidationError(f"{what} has no write_time_column '{write_time_column}'")
        if write_time_column not in used:
            picked.append(quote_ident(write_time_column))
            used.add(write_time_column)
    if not picked:
        raise ValidationError(
            f"{what} has none of the columns of feature group '{group.name}'; map them with columns="
        )
    sql = f"SELECT {', '.join(picked)} FROM {relation}" + (f" WHERE ({where})" if where else "")
    try:
        table = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise ValidationError(f"reading {what} failed: {exc}") from None
    return table, [c for c in available if c not in used]


def _key_tuples(group: FeatureGroup, table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [table.column(k).to_pylist() for k in group.record_identifiers]
    return list(zip(*columns, strict=True))


def _event_filters(event_time: str, start: Any, end: Any) -> tuple[str, ...]:
    column = quote_ident(event_time)
    filters = []
    if start is not None:
        filters.append(f"{column} >= {_ts_literal(start)}")
    if end is not None:
        filters.append(f"{column} <= {_ts_literal(end)}")
    return tuple(filters)


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    moment: datetime = stamp.to_pydatetime()
    return moment


def _ts_literal(value: Any) -> str:
    moment = _as_datetime(value)
    if moment is None:
        raise ValidationError("a time bound is missing")
    return f"TIMESTAMPTZ {quote_literal(moment.astimezone(UTC).isoformat())}"


def _from_us(micros: int) -> datetime:
    # Integer arithmetic: a float division would round away microseconds.
    return _EPOCH + timedelta(microseconds=micros)


def _to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


__all__ = ["FeatureStore", "IngestResult", "TrainingSet"]
