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
import re
import shutil
import socket
import tempfile
import threading
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
from podium.prep.progress import QueryProgress, watch_query
from podium.prep.quoting import ident, literal
from podium.store import Store
from podium.store.tables.ingest import (
    ingest_jobs,
    ingest_output_files,
    ingest_quarantine,
    ingest_run_inputs,
    ingest_runs,
)
from podium.triggers.podium_events import record_batch_run_finished

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


def _claim(
    store: Store, job: JobDefinition, version: int, option: str, lake: Lake, attempt: dict[str, Any]
) -> tuple[str, int]:
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
            abandoned = "abandoned: its process exited before committing"
            conn.execute(
                update(ingest_runs)
                .where(ingest_runs.c.id == dead_id)
                .values(status="FAILED", finished_at=now, error=abandoned)
            )
            record_batch_run_finished(
                conn, job_name=job.name, run_id=dead_id, state="FAILED", message=abandoned, statistics=_statistics({})
            )
        number = (conn.execute(select(func.max(ingest_runs.c.number)).where(ingest_runs.c.job_name == job.name)).scalar() or 0) + 1
        run_id = f"jr_{uuid.uuid4().hex[:16]}"
        conn.execute(
            insert(ingest_runs).values(
                id=run_id, job_name=job.name, job_version=version, number=number, status="RUNNING",
                bookmark_option=option, bookmark_parent=None, bookmark_advanced=False, key_high=None,
                files_read=0, rows_read=0, rows_written=0, rows_quarantined=0, rows_filtered=0,
                bytes_read=0, bytes_written=0, started_at=now, host=host, pid=pid, details=attempt,
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


def _statistics(values: dict[str, Any]) -> dict[str, int | float]:
    """The counts of a finished run as its event carries them."""
    names = {"read": "rows_read", "written": "rows_written", "quarantined": "rows_quarantined",
             "filtered": "rows_filtered", "files": "files_read", "bytes_read": "bytes_read",
             "bytes_written": "bytes_written"}
    stats: dict[str, int | float] = {k: int(values.get(col) or 0) for k, col in names.items()}
    stats["duration_seconds"] = round(float(values.get("duration_seconds") or 0.0), 3)
    return stats


def _finish(store: Store, job_name: str, run_id: str, started: float, *, status: str,
            message: str | None = None, **values: Any) -> None:
    """Close a run that is still RUNNING (a committed run is never overwritten) and, in the
    same transaction, record its "Batch Job Run State Change" event."""
    values = {**values, "duration_seconds": time.monotonic() - started}
    with store.begin() as conn:
        closed = conn.execute(
            update(ingest_runs)
            .where(ingest_runs.c.id == run_id, ingest_runs.c.status == "RUNNING")
            .values(status=status, finished_at=datetime.now(UTC), **values)
        ).rowcount
        if closed == 1:
            record_batch_run_finished(
                conn, job_name=job_name, run_id=run_id, state=status, message=message, statistics=_statistics(values)
            )


class Deadline:
    """A run's timeout: once it passes, every DuckDB query of the attached connection is
    interrupted (again every 0.1 s, so a query started just after is stopped too) and
    `check` raises at the next phase boundary."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes
        self.expired = False
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="podium-job-timeout", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        if self._done.wait(self.minutes * 60):
            return
        self.expired = True
        while not self._done.is_set():
            with self._lock:
                if self._con is not None:
                    self._con.interrupt()
            self._done.wait(0.1)

    def attach(self, con: duckdb.DuckDBPyConnection | None) -> None:
        with self._lock:
            self._con = con

    def check(self) -> None:
        if self.expired:
            raise PodiumError(self.message, code="Timeout")

    @property
    def message(self) -> str:
        return f"timeout: the run was still going after its timeout of {self.minutes:g} minutes"

    def cancel(self) -> None:
        self._done.set()
        self.attach(None)


def run_job(
    settings: Any,
    store: Store,
    name: str,
    *,
    bookmark: BookmarkOption | None = None,
    bookmark_range: tuple[str, str] | None = None,
    progress: Progress | None = None,
    query_progress: QueryProgress | None = None,
    timeout_minutes: float | None = None,
) -> RunResult:
    """Run job `name` once; `bookmark` overrides the job's bookmark option for this run.
    `bookmark_range=(from_run, to_run)` (with pause) reads again the files that the
    bookmarked runs after `from_run` up to `to_run` read, and moves nothing.
    `timeout_minutes` overrides the job's timeout for this run.

    `progress(phase, done, total)` is called on this thread as phases start and end (an
    exception it raises stops the run); `query_progress(phase, percent)` is called from a
    watcher thread while one of the long queries of "read", "transform" or "write" runs
    (see `podium.prep.progress`), so a display can move during a single big query.

    Returns the run's record; a run that fails raises after recording its final state:
    FAILED (a `PodiumError` for failures the user can fix), TIMEOUT (a `PodiumError` with
    code Timeout) or STOPPED (interrupted, e.g. Ctrl-C; the interrupt is re-raised).
    Every final state is published as a "Batch Job Run State Change" event. A FAILED run
    is retried up to the job's `max_retries` times, each retry a new run (attempt 1, 2...).
    """
    job, version = get_job(store, name)
    if timeout_minutes is not None and not 0 < timeout_minutes <= 10_080:
        raise ValidationError(f"timeout {timeout_minutes!r} minutes: give a number above 0, at most 10080 (7 days)")
    option = bookmark or job.bookmark
    if bookmark_range is not None and (option != "pause" or job.source.path is None):
        raise ValidationError("a bookmark range (--bookmark-from/--bookmark-to) needs bookmark pause and a file source")
    retries = job.max_retries
    previous: str | None = None
    for attempt in range(retries + 1):
        outcome: dict[str, str] = {}
        try:
            return _attempt(
                settings, store, job, version, option, bookmark_range, progress, timeout_minutes,
                {"attempt": attempt, "previous_run_id": previous}, outcome, query_progress=query_progress,
            )
        except Exception:
            # Glue retries a failed run as a new run with the next attempt number; a run
            # that timed out or was stopped is not retried.
            if outcome.get("status") != "FAILED" or attempt == retries:
                raise
            previous = outcome["run_id"]
    raise AssertionError("unreachable")


def _attempt(
    settings: Any, store: Store, job: JobDefinition, version: int, option: str,
    bookmark_range: tuple[str, str] | None, progress: Progress | None, timeout_minutes: float | None,
    attempt: dict[str, Any], outcome: dict[str, str], *, query_progress: QueryProgress | None = None,
) -> RunResult:
    lake = Lake(settings.lake_url)
    started = time.monotonic()
    run_id, number = _claim(store, job, version, option, lake, attempt)
    workdir = Path(tempfile.mkdtemp(prefix=f"podium-{run_id}-", dir=_work_root(settings)))
    published: list[str] = []
    deadline = Deadline(timeout_minutes if timeout_minutes is not None else job.timeout_minutes)
    try:
        result = _execute(
            settings, store, job, option, run_id, number, lake, workdir, published, started, progress,
            bookmark_range, deadline, attempt, query_progress,
        )
    except BaseException as exc:
        deadline.cancel()
        for path in published:
            lake.remove(path)
        message = exc.message if isinstance(exc, PodiumError) else f"{type(exc).__name__}: {exc}"
        status = "FAILED"
        if deadline.expired:
            status, message = "TIMEOUT", deadline.message
        elif isinstance(exc, KeyboardInterrupt):
            status, message = "STOPPED", "stopped: the run was interrupted"
        _finish(store, job.name, run_id, started, status=status, message=message[:4000], error=message[:4000])
        outcome.update(run_id=run_id, status=status)
        if status == "TIMEOUT":
            raise PodiumError(f"job '{job.name}' run {run_id}: {message}; nothing was committed",
                              code="Timeout") from exc
        raise
    finally:
        deadline.cancel()
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
    deadline: Deadline,
    attempt: dict[str, Any],
    query_progress: QueryProgress | None = None,
) -> RunResult:
    user_tell = progress or (lambda phase, done, total: None)

    def tell(phase: str, done: int, total: int) -> None:
        deadline.check()
        user_tell(phase, done, total)

    with store.connect() as conn:
        state = bookmarks.load_state(conn, job.name)
        wanted = bookmarks.range_files(conn, job.name, *bookmark_range) if bookmark_range else None
    use_bookmark = option in ("enable", "pause")
    con = connect(temp_dir=workdir / "spill")
    deadline.attach(con)
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
                return _record_empty(store, job, option, run_id, number, state, started, attempt)
            tell("read", 0, len(pending))
            with watch_query(con, "read", query_progress):
                load = load_files(
                    con, pending, job.source.read, workdir / "lines", on_file=lambda done, total: tell("read", done, total)
                )
        else:
            with watch_query(con, "read", query_progress):
                load, key_high = _load_table(store, con, job, key_high)
            tell("list", 1, 1)
            if load.rows_parsed == 0 and load.rows_rejected == 0:
                return _record_empty(store, job, option, run_id, number, state, started, attempt)
        tell("transform", 0, 1)
        with watch_query(con, "transform", query_progress):
            counts = _transform_and_check(store, con, job, load)
        tell("transform", 1, 1)
        tell("write", 0, 1)
        with watch_query(con, "write", query_progress):
            outputs, schema = _write_outputs(con, job, run_id, workdir, counts)
            quarantine = _write_quarantine(con, run_id, workdir, load, counts)
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
        deadline.attach(None)
        details = {
            **attempt,
            "quarantine": {"parse": load.rows_rejected, "contract": counts["contract_bad"]},
            "recipe_rows": counts["recipe_rows"],
            "plan": counts["plan"],
            "check": f"read {rows_read} = written {written} + quarantined {quarantined} + filtered {filtered}",
        }
        result = _commit(
            store, settings, job, option, run_id, number, state, load, outputs, quarantine, lake, published,
            started, counts, key_high, details, schema,
        )
        tell("commit", 1, 1)
        return result
    finally:
        deadline.attach(None)
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


# Steps after which each output row still stands for exactly one source row whose values
# a second evaluation reproduces: the output pass can then skip the rows that the check
# pass flagged, by provenance, instead of keeping every row in a table between the two.
_ROW_STEPS = {"select", "drop", "rename", "cast", "filter", "dedupe", "fill", "onehot", "ordinal",
              "scale", "bin", "text", "datetime", "window"}
_VOLATILE = re.compile(
    r"\b(random|uuid|gen_random_uuid|setseed|nextval|now|today|current_timestamp|current_time|"
    r"current_date|get_current_time|get_current_timestamp|current_localtimestamp)\b",
    re.IGNORECASE,
)


def _transform_and_check(store: Store, con: duckdb.DuckDBPyConnection, job: JobDefinition, load: SourceLoad) -> dict[str, Any]:
    """Compile the recipe and contract; returns the counts known so far and the plan:

    - "stream" (no contract): nothing can fail, rows stream from the source into the
      output files in one pass; `CHECKED_TABLE` is a view.
    - "two_pass" (a contract, and a recipe that maps each row to one source row
      deterministically): a first pass keeps only the rows that break the contract in
      `CHECKED_TABLE`; the output pass recomputes the recipe and skips those rows by
      their provenance. Memory holds the bad rows only.
    - "table": the checked rows are computed once into `CHECKED_TABLE`, which both the
      output and the quarantine read.
    """
    from podium.catalog.resolver import CatalogResolver

    sql = f"SELECT * FROM {load.view}"
    columns = tuple(con.sql(sql).columns)
    ops: set[str] = set()
    if job.recipe is not None and job.recipe.steps:
        prepared = prepare(job.recipe, con, load.view, resolver=CatalogResolver(store), carry=PROVENANCE)
        sql, columns = prepared.sql, prepared.columns
        ops = {step.op for step in job.recipe.steps}
    missing = [c for c in PROVENANCE if c not in columns]
    if missing:
        # The recipe aggregated or reshaped rows: results no longer map to one source row.
        extra = ", ".join(f"CAST(NULL AS {'VARCHAR' if c == FILE_COLUMN else 'BIGINT'}) AS {c}" for c in missing)
        sql = f"SELECT *, {extra} FROM ({sql})"
        columns = columns + tuple(missing)
    for part in job.output.partition_by:
        if part not in columns:
            raise ValidationError(f"output.partition_by: column '{part}' is not in the recipe output")
    if job.contract is None:
        con.execute(f"CREATE VIEW {CHECKED_TABLE} AS SELECT *, CAST(NULL AS VARCHAR) AS {REASON_COLUMN} FROM ({sql})")
        return {"plan": "stream", "recipe_rows": None, "contract_bad": 0, "sql": sql}
    check_schema(job.contract, columns)
    reason = reason_sql(job.contract, columns, PROVENANCE)
    two_pass = not missing and ops <= _ROW_STEPS and not _VOLATILE.search(sql)
    checked = f"SELECT *, {reason} AS {REASON_COLUMN} FROM ({sql})"
    try:
        if two_pass:
            con.execute(f"CREATE TABLE {CHECKED_TABLE} AS SELECT * FROM ({checked}) WHERE {REASON_COLUMN} IS NOT NULL")
            bad = con.execute(f"SELECT count(*) FROM {CHECKED_TABLE}").fetchall()[0][0]
            return {"plan": "two_pass", "recipe_rows": None, "contract_bad": int(bad), "sql": sql}
        con.execute(f"CREATE TABLE {CHECKED_TABLE} AS {checked}")
    except duckdb.Error as exc:
        raise _recipe_error(job, exc) from None
    total, bad = con.execute(
        f"SELECT count(*), count({REASON_COLUMN}) FROM {CHECKED_TABLE}"
    ).fetchall()[0]
    return {"plan": "table", "recipe_rows": int(total), "contract_bad": int(bad), "sql": sql}


def _recipe_error(job: JobDefinition, exc: duckdb.Error) -> PodiumError:
    if isinstance(exc, duckdb.InterruptException):
        return PodiumError(f"job '{job.name}': the run was interrupted", code="Interrupted")
    return ValidationError(f"job '{job.name}': the recipe failed on the data: {str(exc).splitlines()[0]}")


def _write_outputs(
    con: duckdb.DuckDBPyConnection, job: JobDefinition, run_id: str, workdir: Path, counts: dict[str, Any]
) -> tuple[list[tuple[Path, str, int, int]], list[tuple[str, str]]]:
    """Write good rows as Parquet under workdir/out (partitioned by DuckDB's COPY, in one
    pass); returns the files (path, path relative to the dataset, rows, bytes) and the
    output schema. Plans that stream learn the recipe's row count here."""
    out = workdir / "out"
    cast = ""
    if job.contract is not None:
        typed = [(n, r.type) for n, r in job.contract.columns.items() if r.type]
        present = set(con.sql(f"SELECT * FROM {CHECKED_TABLE}").columns)
        pairs = [f"CAST({ident(n)} AS {t}) AS {ident(n)}" for n, t in typed if n in present]
        cast = f" REPLACE ({', '.join(pairs)})" if pairs else ""
    plan = counts["plan"]
    if plan == "stream":
        query = f"SELECT * EXCLUDE ({', '.join([*PROVENANCE, REASON_COLUMN])}) FROM {CHECKED_TABLE}"
    elif plan == "two_pass":
        source = f"({counts['sql']}) AS s"
        if counts["contract_bad"]:
            on = " AND ".join(f"s.{c} = b.{c}" for c in PROVENANCE)
            source += f" ANTI JOIN {CHECKED_TABLE} AS b ON {on}"
        query = f"SELECT s.* EXCLUDE ({', '.join(PROVENANCE)}){cast} FROM {source}"
    else:
        hidden = ", ".join([*PROVENANCE, REASON_COLUMN])
        query = f"SELECT * EXCLUDE ({hidden}){cast} FROM {CHECKED_TABLE} WHERE {REASON_COLUMN} IS NULL"
    rel = con.sql(query)
    schema = [(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True)]
    if plan == "table" and counts["recipe_rows"] == counts["contract_bad"]:
        return [], schema
    out.mkdir(parents=True)
    target = str(out).replace("'", "''")
    # Row order within the output files means nothing (the rows' provenance is fixed
    # already); not keeping it lets every thread write its own row groups.
    con.execute("SET preserve_insertion_order = false")
    # zstd at its fastest level: files about as small as snappy's, for less CPU than zstd's default level.
    options = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"
    try:
        if job.output.partition_by:
            parts = ", ".join(ident(c) for c in job.output.partition_by)
            copied = con.execute(
                f"COPY ({query}) TO '{target}' ({options}, PARTITION_BY ({parts}), "
                f"FILENAME_PATTERN 'part-{run_id}-{{i}}')"
            ).fetchall()
        else:
            copied = con.execute(f"COPY ({query}) TO '{target}/part-{run_id}-0.parquet' ({options})").fetchall()
    except duckdb.Error as exc:
        raise _recipe_error(job, exc) from None
    rows = int(copied[0][0]) if copied else 0
    if plan != "table":
        counts["recipe_rows"] = rows + counts["contract_bad"]
    if rows == 0:
        shutil.rmtree(out, ignore_errors=True)
        return [], schema
    files = []
    for f in sorted(out.rglob("*.parquet")):
        files.append((f, f.relative_to(out).as_posix(), pq.ParquetFile(f).metadata.num_rows, f.stat().st_size))
    return files, schema


def _write_quarantine(
    con: duckdb.DuckDBPyConnection, run_id: str, workdir: Path, load: SourceLoad, counts: dict[str, Any]
) -> tuple[Path, int, dict[str, int]] | None:
    """Parse rejects and contract failures as one Parquet file (kind, reason, source file,
    line or row, and the record as text)."""
    kinds = {k: n for k, n in (("parse", load.rows_rejected), ("contract", counts["contract_bad"])) if n}
    if not kinds:
        return None
    query = (
        f"SELECT 'parse' AS kind, reason, file AS source_file, line, CAST(NULL AS BIGINT) AS row, record "
        f"FROM {REJECTS_TABLE}"
    )
    if counts["contract_bad"]:
        data_cols = [c for c in con.sql(f"SELECT * FROM {CHECKED_TABLE}").columns if c not in (*PROVENANCE, REASON_COLUMN)]
        record = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in data_cols) + "))" if data_cols else "'{}'"
        query += (
            f" UNION ALL SELECT 'contract', {REASON_COLUMN}, {FILE_COLUMN}, CAST(NULL AS BIGINT), {ROW_COLUMN}, "
            f"CAST({record} AS VARCHAR) FROM {CHECKED_TABLE} WHERE {REASON_COLUMN} IS NOT NULL"
        )
    path = workdir / "quarantine" / "part-0.parquet"
    path.parent.mkdir(parents=True)
    con.execute(f"COPY ({query} ORDER BY 1, 3, 4, 5) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
    return path, pq.ParquetFile(path).metadata.num_rows, kinds


def _record_empty(store: Store, job: JobDefinition, option: str, run_id: str, number: int,
                  state: bookmarks.BookmarkState, started: float, attempt: dict[str, Any]) -> RunResult:
    elapsed = time.monotonic() - started
    details = {**attempt, "note": "no new data", "bookmark_head": state.head_run_id}
    _finish(store, job.name, run_id, started, status="SUCCEEDED", message="no new data",
            bookmark_parent=state.head_run_id, details=details)
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
        final = {
            "files_read": len(load.files), "rows_read": load.rows_parsed + load.rows_rejected,
            "rows_written": written, "rows_quarantined": quarantined,
            "rows_filtered": load.rows_parsed - counts["recipe_rows"], "bytes_read": load.bytes_read,
            "bytes_written": bytes_written, "duration_seconds": elapsed,
        }
        conn.execute(
            update(ingest_runs).where(ingest_runs.c.id == run_id).values(
                status="SUCCEEDED", bookmark_parent=state.head_run_id, bookmark_advanced=advance,
                key_high=key_high if advance or option == "pause" else None,
                finished_at=datetime.now(UTC), details=details, **final,
            )
        )
        record_batch_run_finished(
            conn, job_name=job.name, run_id=run_id, state="SUCCEEDED", message=details["check"],
            statistics=_statistics(final),
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
