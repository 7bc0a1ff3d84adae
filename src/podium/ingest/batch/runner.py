"""Run a batch job: read what the bookmark says is new, apply the recipe, check the
contract, write Parquet partitions and quarantine, then commit everything at once.

Atomicity: output and quarantine files are first written to a local work folder. The
commit is one metadata transaction that moves the bookmark (conditionally on its
version), moves the files into the lake, records the manifest, inputs, counts and the
catalog schema, and marks the run SUCCEEDED. Readers list files through the manifest
(`podium.ingest.batch.datasets`), so a file moved by a run that then dies is never
read; the next run of the job finds the dead run (same host, process gone), marks it
FAILED and deletes its files. A crash at any point therefore commits nothing and the
next run reads the same inputs again: each row lands in the output exactly once.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from sqlalchemy import func, insert, select, update

from podium.errors import ConflictError, PodiumError, ValidationError
from podium.ingest.batch import bookmarks
from podium.ingest.batch.contracts import REASON_COLUMN, check_schema, reason_sql
from podium.ingest.batch.jobs import BookmarkOption, JobDefinition, get_job
from podium.ingest.batch.lake import Lake
from podium.ingest.batch.sources import (
    FILE_COLUMN,
    PROVENANCE,
    REJECTS_TABLE,
    ROW_COLUMN,
    FileEntry,
    SourceLoad,
    list_files,
    load_files,
)
from podium.prep.engine import connect
from podium.prep.executor import prepare
from podium.prep.quoting import ident, literal
from podium.store import Store
from podium.store.tables.ingest import (
    ingest_jobs,
    ingest_output_files,
    ingest_quarantine,
    ingest_run_inputs,
    ingest_runs,
)

# (phase, done, total): phases are "list", "read", "transform", "write", "commit".
Progress = Callable[[str, int, int], None]
CHECKED_TABLE = "_podium_checked"


@dataclass(frozen=True)
class RunResult:
    """The record of one run."""

    run_id: str
    job_name: str
    number: int
    status: str
    bookmark_option: str
    files_read: int = 0
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_filtered: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    duration_seconds: float = 0.0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim(store: Store, job: JobDefinition, version: int, option: str, lake: Lake) -> tuple[str, int]:
    """Insert the RUNNING row, after retiring dead runs; refuse a second live run."""
    host, pid = socket.gethostname(), os.getpid()
    dead: list[str] = []
    with store.begin() as conn:
        # Serialise claims of one job (SQLite's BEGIN IMMEDIATE already does; PostgreSQL needs the row lock).
        conn.execute(select(ingest_jobs.c.name).where(ingest_jobs.c.name == job.name).with_for_update()).all()
        running = conn.execute(
            select(ingest_runs.c.id, ingest_runs.c.host, ingest_runs.c.pid).where(
                ingest_runs.c.job_name == job.name, ingest_runs.c.status == "RUNNING"
            )
        ).all()
        for r in running:
            if r.host == host and not _pid_alive(int(r.pid)):
                dead.append(r.id)
            else:
                raise ConflictError(
                    f"job '{job.name}' already has a run in progress ({r.id}, pid {r.pid} on {r.host})",
                    code="ConcurrentRuns",
                )
        now = datetime.now(UTC)
        for dead_id in dead:
            conn.execute(
                update(ingest_runs)
                .where(ingest_runs.c.id == dead_id)
                .values(status="FAILED", finished_at=now, error="abandoned: its process exited before committing")
            )
        number = (conn.execute(select(func.max(ingest_runs.c.number)).where(ingest_runs.c.job_name == job.name)).scalar() or 0) + 1
        run_id = f"jr_{uuid.uuid4().hex[:16]}"
        conn.execute(
            insert(ingest_runs).values(
                id=run_id, job_name=job.name, job_version=version, number=number, status="RUNNING",
                bookmark_option=option, bookmark_parent=None, bookmark_advanced=False, key_high=None,
                files_read=0, rows_read=0, rows_written=0, rows_quarantined=0, rows_filtered=0,
                bytes_read=0, bytes_written=0, started_at=now, host=host, pid=pid,
            )
        )
    for dead_id in dead:
        _remove_run_files(lake, job, dead_id)
    return run_id, number


def _remove_run_files(lake: Lake, job: JobDefinition, run_id: str) -> None:
    """Delete files a dead run may have moved into the lake before dying."""
    marker = f"part-{run_id}-"
    for path in lake.find(job.output.dataset):
        if marker in path.rsplit("/", 1)[-1]:
            lake.remove(path)
    for path in lake.find("quarantine", job.name, f"run={run_id}"):
        lake.remove(path)


def _finish(store: Store, run_id: str, started: float, **values: Any) -> None:
    """Close a run that is still RUNNING (a committed run is never overwritten)."""
    with store.begin() as conn:
        conn.execute(
            update(ingest_runs)
            .where(ingest_runs.c.id == run_id, ingest_runs.c.status == "RUNNING")
            .values(finished_at=datetime.now(UTC), duration_seconds=time.monotonic() - started, **values)
        )


def run_job(
    settings: Any,
    store: Store,
    name: str,
    *,
    bookmark: BookmarkOption | None = None,
    bookmark_range: tuple[str, str] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run job `name` once; `bookmark` overrides the job's bookmark option for this run.
    `bookmark_range=(from_run, to_run)` (with pause) reads again the files that the
    bookmarked runs after `from_run` up to `to_run` read, and moves nothing.

    Returns the run's record; a run that fails raises after recording FAILED (a
    `PodiumError` for failures the user can fix).
    """
    job, version = get_job(store, name)
    option = bookmark or job.bookmark
    if bookmark_range is not None and (option != "pause" or job.source.path is None):
        raise ValidationError("a bookmark range (--bookmark-from/--bookmark-to) needs bookmark pause and a file source")
    lake = Lake(settings.lake_url)
    started = time.monotonic()
    run_id, number = _claim(store, job, version, option, lake)
    workdir = Path(tempfile.mkdtemp(prefix=f"podium-{run_id}-", dir=_work_root(settings)))
    published: list[str] = []
    try:
        result = _execute(
            settings, store, job, option, run_id, number, lake, workdir, published, started, progress, bookmark_range
        )
    except BaseException as exc:
        for path in published:
            lake.remove(path)
        message = exc.message if isinstance(exc, PodiumError) else f"{type(exc).__name__}: {exc}"
        _finish(store, run_id, started, status="FAILED", error=message[:4000])
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _work_root(settings: Any) -> str:
    root = Path(settings.home) / "tmp" / "ingest"
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


def _execute(
    settings: Any,
    store: Store,
    job: JobDefinition,
    option: str,
    run_id: str,
    number: int,
    lake: Lake,
    workdir: Path,
    published: list[str],
    started: float,
    progress: Progress | None,
    bookmark_range: tuple[str, str] | None,
) -> RunResult:
    tell = progress or (lambda phase, done, total: None)
    with store.connect() as conn:
        state = bookmarks.load_state(conn, job.name)
        wanted = bookmarks.range_files(conn, job.name, *bookmark_range) if bookmark_range else None
    use_bookmark = option in ("enable", "pause")
    con = connect(temp_dir=workdir / "spill")
    try:
        tell("list", 0, 1)
        pending: list[FileEntry] = []
        key_high = state.key_high if use_bookmark else None
        if job.source.path is not None:
            listed = list_files(job.source.path)
            if wanted is not None:
                pending = [f for f in listed if (f.path, f.size, f.mtime) in wanted]
            else:
                pending = state.pending(listed) if use_bookmark else listed
            tell("list", 1, 1)
            if not pending:
                return _record_empty(store, job, option, run_id, number, state, started)
            tell("read", 0, len(pending))
            load = load_files(
                con, pending, job.source.read, workdir / "lines", on_file=lambda done, total: tell("read", done, total)
            )
        else:
            load, key_high = _load_table(store, con, job, key_high)
            tell("list", 1, 1)
            if load.rows_parsed == 0 and load.rows_rejected == 0:
                return _record_empty(store, job, option, run_id, number, state, started)
        tell("transform", 0, 1)
        counts = _transform_and_check(store, con, job, load)
        tell("transform", 1, 1)
        tell("write", 0, 1)
        outputs, schema = _write_outputs(con, job, run_id, workdir)
        quarantine = _write_quarantine(con, run_id, workdir)
        tell("write", 1, 1)
        written = sum(rows for _, _, rows, _ in outputs)
        quarantined = quarantine[1] if quarantine else 0
        rows_read = load.rows_parsed + load.rows_rejected
        filtered = load.rows_parsed - counts["recipe_rows"]
        if counts["recipe_rows"] != written + counts["contract_bad"] or rows_read != written + quarantined + filtered:
            raise PodiumError(
                f"run {run_id}: counts do not add up (read {rows_read}, written {written}, "
                f"quarantined {quarantined}, filtered by the recipe {filtered}); nothing was committed",
                code="CountMismatch",
            )
        tell("commit", 0, 1)
        details = {
            "quarantine": {"parse": load.rows_rejected, "contract": counts["contract_bad"]},
            "recipe_rows": counts["recipe_rows"],
            "check": f"read {rows_read} = written {written} + quarantined {quarantined} + filtered {filtered}",
        }
        result = _commit(
            store, settings, job, option, run_id, number, state, load, outputs, quarantine, lake, published,
            started, counts, key_high, details, schema,
        )
        tell("commit", 1, 1)
        return result
    finally:
        con.close()


def _load_table(store: Store, con: duckdb.DuckDBPyConnection, job: JobDefinition, key_high: Any) -> tuple[SourceLoad, Any]:
    """Rows of a catalog table with bookmark_key above the bookmark (all with no bookmark)."""
    from podium.catalog.tables import scan_sql

    assert job.source.table is not None and job.source.bookmark_key is not None
    key = ident(job.source.bookmark_key)
    where = ""
    if key_high is not None:
        where = f"WHERE {key} > CAST({literal(key_high['value'])} AS {key_high['type']})"
    con.execute(f"CREATE OR REPLACE TABLE {REJECTS_TABLE} (file VARCHAR, line BIGINT, reason VARCHAR, record VARCHAR)")
    con.execute(
        f"CREATE TABLE _podium_raw_0 AS SELECT *, {literal(job.source.table)} AS {FILE_COLUMN} "
        f"FROM {scan_sql(store, job.source.table, con)} {where} ORDER BY {key}"
    )
    con.execute(f"CREATE VIEW _podium_source AS SELECT *, CAST(rowid + 1 AS BIGINT) AS {ROW_COLUMN} FROM _podium_raw_0")
    stats = con.execute(f"SELECT count(*), CAST(max({key}) AS VARCHAR), typeof(max({key})) FROM _podium_raw_0").fetchall()[0]
    rows = int(stats[0])
    new_high = {"value": stats[1], "type": stats[2]} if rows else key_high
    return SourceLoad("_podium_source", (), rows, 0, 0), new_high


def _transform_and_check(store: Store, con: duckdb.DuckDBPyConnection, job: JobDefinition, load: SourceLoad) -> dict[str, int]:
    from podium.catalog.resolver import CatalogResolver

    sql = f"SELECT * FROM {load.view}"
    columns = tuple(con.sql(sql).columns)
    if job.recipe is not None and job.recipe.steps:
        prepared = prepare(job.recipe, con, load.view, resolver=CatalogResolver(store), carry=PROVENANCE)
        sql, columns = prepared.sql, prepared.columns
    missing = [c for c in PROVENANCE if c not in columns]
    if missing:
        # The recipe aggregated or reshaped rows: results no longer map to one source row.
        extra = ", ".join(f"CAST(NULL AS {'VARCHAR' if c == FILE_COLUMN else 'BIGINT'}) AS {c}" for c in missing)
        sql = f"SELECT *, {extra} FROM ({sql})"
        columns = columns + tuple(missing)
    reason = "CAST(NULL AS VARCHAR)"
    if job.contract is not None:
        check_schema(job.contract, columns)
        reason = reason_sql(job.contract, columns, PROVENANCE)
    for part in job.output.partition_by:
        if part not in columns:
            raise ValidationError(f"output.partition_by: column '{part}' is not in the recipe output")
    try:
        con.execute(f"CREATE TABLE {CHECKED_TABLE} AS SELECT *, {reason} AS {REASON_COLUMN} FROM ({sql})")
    except duckdb.Error as exc:
        raise ValidationError(f"job '{job.name}': the recipe failed on the data: {str(exc).splitlines()[0]}") from None
    total, bad = con.execute(
        f"SELECT count(*), count({REASON_COLUMN}) FROM {CHECKED_TABLE}"
    ).fetchall()[0]
    return {"recipe_rows": int(total), "contract_bad": int(bad)}


def _write_outputs(
    con: duckdb.DuckDBPyConnection, job: JobDefinition, run_id: str, workdir: Path
) -> tuple[list[tuple[Path, str, int, int]], list[tuple[str, str]]]:
    """Write good rows as Parquet under workdir/out; returns the files (path, path relative
    to the dataset, rows, bytes) and the output schema."""
    out = workdir / "out"
    hidden = ", ".join([*PROVENANCE, REASON_COLUMN])
    cast = ""
    if job.contract is not None:
        typed = [(n, r.type) for n, r in job.contract.columns.items() if r.type]
        present = set(con.sql(f"SELECT * FROM {CHECKED_TABLE}").columns)
        pairs = [f"CAST({ident(n)} AS {t}) AS {ident(n)}" for n, t in typed if n in present]
        cast = f" REPLACE ({', '.join(pairs)})" if pairs else ""
    query = f"SELECT * EXCLUDE ({hidden}){cast} FROM {CHECKED_TABLE} WHERE {REASON_COLUMN} IS NULL"
    rel = con.sql(query)
    schema = [(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True)]
    good = con.execute(f"SELECT count(*) FROM {CHECKED_TABLE} WHERE {REASON_COLUMN} IS NULL").fetchall()[0][0]
    if not good:
        return [], schema
    out.mkdir(parents=True)
    target = str(out).replace("'", "''")
    if job.output.partition_by:
        parts = ", ".join(ident(c) for c in job.output.partition_by)
        con.execute(
            f"COPY ({query}) TO '{target}' (FORMAT parquet, PARTITION_BY ({parts}), "
            f"FILENAME_PATTERN 'part-{run_id}-{{i}}', COMPRESSION zstd)"
        )
    else:
        con.execute(f"COPY ({query}) TO '{target}/part-{run_id}-0.parquet' (FORMAT parquet, COMPRESSION zstd)")
    files = []
    for f in sorted(out.rglob("*.parquet")):
        files.append((f, f.relative_to(out).as_posix(), pq.ParquetFile(f).metadata.num_rows, f.stat().st_size))
    return files, schema


def _write_quarantine(con: duckdb.DuckDBPyConnection, run_id: str, workdir: Path) -> tuple[Path, int, dict[str, int]] | None:
    """Parse rejects and contract failures as one Parquet file (kind, reason, source file,
    line or row, and the record as text)."""
    data_cols = [c for c in con.sql(f"SELECT * FROM {CHECKED_TABLE}").columns if c not in (*PROVENANCE, REASON_COLUMN)]
    record = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in data_cols) + "))" if data_cols else "'{}'"
    query = (
        f"SELECT 'parse' AS kind, reason, file AS source_file, line, CAST(NULL AS BIGINT) AS row, record "
        f"FROM {REJECTS_TABLE} "
        f"UNION ALL SELECT 'contract', {REASON_COLUMN}, {FILE_COLUMN}, CAST(NULL AS BIGINT), {ROW_COLUMN}, "
        f"CAST({record} AS VARCHAR) FROM {CHECKED_TABLE} WHERE {REASON_COLUMN} IS NOT NULL"
    )
    counts = dict(con.execute(f"SELECT kind, count(*) FROM ({query}) GROUP BY kind").fetchall())
    if not counts:
        return None
    path = workdir / "quarantine" / "part-0.parquet"
    path.parent.mkdir(parents=True)
    con.execute(f"COPY ({query} ORDER BY 1, 3, 4, 5) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
    return path, pq.ParquetFile(path).metadata.num_rows, {k: int(v) for k, v in counts.items()}


def _record_empty(store: Store, job: JobDefinition, option: str, run_id: str, number: int,
                  state: bookmarks.BookmarkState, started: float) -> RunResult:
    elapsed = time.monotonic() - started
    details = {"note": "no new data", "bookmark_head": state.head_run_id}
    _finish(store, run_id, started, status="SUCCEEDED", bookmark_parent=state.head_run_id, details=details)
    return RunResult(run_id, job.name, number, "SUCCEEDED", option, duration_seconds=elapsed, details=details)


def _commit(
    store: Store, settings: Any, job: JobDefinition, option: str, run_id: str, number: int,
    state: bookmarks.BookmarkState, load: SourceLoad,
    outputs: list[tuple[Path, str, int, int]], quarantine: tuple[Path, int, dict[str, int]] | None,
    lake: Lake, published: list[str], started: float, counts: dict[str, int], key_high: Any,
    details: dict[str, Any], schema: list[tuple[str, str]],
) -> RunResult:
    from podium.catalog.schema import Column
    from podium.catalog.tables import put_table

    written = sum(r for _, _, r, _ in outputs)
    bytes_written = sum(b for _, _, _, b in outputs)
    quarantined = quarantine[1] if quarantine else 0
    advance = option == "enable"
    with store.begin() as conn:
        if advance:
            bookmarks.advance(conn, state, run_id)
        for local, rel, rows, size in outputs:
            url = lake.publish(local, job.output.dataset, rel)
            published.append(url)
            conn.execute(insert(ingest_output_files).values(run_id=run_id, path=url, dataset=job.output.dataset, rows=rows, bytes=size))
        qpath = None
        if quarantine is not None:
            qpath = lake.publish(quarantine[0], "quarantine", job.name, f"run={run_id}", "part-0.parquet")
            published.append(qpath)
            for kind, rows in quarantine[2].items():
                conn.execute(insert(ingest_quarantine).values(run_id=run_id, kind=kind, rows=rows, path=qpath))
        for f in load.files:
            conn.execute(insert(ingest_run_inputs).values(run_id=run_id, path=f.path, size=f.size, mtime=f.mtime))
        if outputs:
            put_table(
                conn, job.output.table_name, location=lake.path(job.output.dataset), format="parquet",
                columns=[Column(n, t) for n, t in schema], partition_keys=job.output.partition_by,
                files=len(outputs), managed_by=job.name, dataset=job.output.dataset,
            )
        elapsed = time.monotonic() - started
        details = {**details, "bookmark_head": run_id if advance else state.head_run_id,
                   "bookmark_files": len(state.files) + (len(load.files) if advance else 0),
                   "quarantine_path": qpath}
        conn.execute(
            update(ingest_runs).where(ingest_runs.c.id == run_id).values(
                status="SUCCEEDED", bookmark_parent=state.head_run_id, bookmark_advanced=advance,
                key_high=key_high if advance or option == "pause" else None,
                files_read=len(load.files), rows_read=load.rows_parsed + load.rows_rejected,
                rows_written=written, rows_quarantined=quarantined,
                rows_filtered=load.rows_parsed - counts["recipe_rows"], bytes_read=load.bytes_read,
                bytes_written=bytes_written, finished_at=datetime.now(UTC), duration_seconds=elapsed,
                details=details,
            )
        )
    # Committed: from here on these files belong to the dataset, whatever happens next.
    published.clear()
    return RunResult(
        run_id, job.name, number, "SUCCEEDED", option, len(load.files), load.rows_parsed + load.rows_rejected,
        written, quarantined, load.rows_parsed - counts["recipe_rows"], load.bytes_read, bytes_written, elapsed,
        None, details,
    )


def list_runs(store: Store, job_name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The job's runs, newest first."""
    with store.connect() as conn:
        rows = conn.execute(
            select(ingest_runs).where(ingest_runs.c.job_name == job_name)
            .order_by(ingest_runs.c.number.desc()).limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows]


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    from podium.errors import NotFoundError

    with store.connect() as conn:
        row = conn.execute(select(ingest_runs).where(ingest_runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"run '{run_id}' does not exist")
    return dict(row._mapping)
