"""Batch sources: list files through fsspec and load them into DuckDB with provenance.

Listing gives each file's path, size and modification time (what bookmarks remember).
Loading gives one relation with two extra columns, `_podium_file` and `_podium_row`
(1-based position of the record among the file's parsed records), and a rejects
relation of lines that could not be parsed (file, line, reason, text): CSV rows come
from DuckDB's rejects tables, JSON Lines fall back to a line-by-line parser when DuckDB
refuses a file. JSON arrays and Parquet are all-or-nothing: a corrupt file fails the
run. Parquet files are read in place through a view; the other formats are parsed into
DuckDB once, so that recipe statistics and the output pass do not parse the text again.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import fsspec
from fsspec.core import url_to_fs

from podium.errors import NotFoundError, ValidationError
from podium.prep.engine import ensure_filesystem, protocol_of
from podium.prep.quoting import ident, literal
from podium.prep.readers import ReadOptions, detect_format, read_sql

FILE_COLUMN = "_podium_file"
ROW_COLUMN = "_podium_row"
PROVENANCE = (FILE_COLUMN, ROW_COLUMN)
SOURCE_VIEW = "_podium_source"
REJECTS_TABLE = "_podium_rejects"


@dataclass(frozen=True)
class FileEntry:
    """One source file as bookmarks see it."""

    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class SourceLoad:
    """What loading produced: the view of parsed rows, and counts."""

    view: str
    files: tuple[FileEntry, ...]
    rows_parsed: int
    rows_rejected: int
    bytes_read: int


def _mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return datetime.fromisoformat(str(value)).timestamp()
        except ValueError:
            continue
    return 0.0


def _hidden(path: str) -> bool:
    # Staging areas, markers and dotfiles are never data (Spark/Hive conventions).
    return any(part.startswith(("_", ".")) for part in path.rstrip("/").split("/")[-1:])


def list_files(url: str) -> list[FileEntry]:
    """Files at `url`: a file, a directory (recursively) or a glob; sorted by path."""
    fs, root = url_to_fs(url)
    proto = protocol_of(url)
    if any(ch in root for ch in "*?["):
        infos = fs.glob(root, detail=True)
    elif fs.isdir(root):
        infos = fs.find(root, detail=True)
    elif fs.exists(root):
        infos = {root: fs.info(root)}
    else:
        raise NotFoundError(f"source {url} does not exist")
    out = []
    for name, info in sorted(infos.items()):
        if info.get("type") == "directory" or _hidden(name):
            continue
        path = fs.unstrip_protocol(name) if proto else name
        out.append(FileEntry(path, int(info.get("size") or 0), _mtime(info)))
    return out


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def load_files(
    con: duckdb.DuckDBPyConnection,
    files: list[FileEntry],
    options: ReadOptions,
    workdir: Path,
    on_file: Callable[[int, int], None] | None = None,
) -> SourceLoad:
    """Load `files` into `SOURCE_VIEW` (with provenance) and `REJECTS_TABLE`;
    `on_file(done, total)` is called after each file."""
    con.execute(
        f"CREATE OR REPLACE TABLE {REJECTS_TABLE} "
        "(file VARCHAR, line BIGINT, reason VARCHAR, record VARCHAR)"
    )
    parts: list[str] = []
    for i, entry in enumerate(files):
        ensure_filesystem(con, entry.path)
        fmt = options.format or detect_format(entry.path)
        table = f"_podium_raw_{i}"
        opts = options.model_copy(update={"format": fmt})
        if fmt == "parquet" and _view_parquet(con, entry, opts, table):
            # Read in place (no copy): Parquet gives each row's position in its file.
            parts.append(f"SELECT * EXCLUDE (file_row_number), CAST(file_row_number + 1 AS BIGINT) AS {ROW_COLUMN} FROM {table}")
        elif fmt == "csv":
            _load_csv(con, entry, opts, table, i)
            # The file name is a constant of the view, not a stored column.
            parts.append(
                f"SELECT *, {literal(entry.path)} AS {FILE_COLUMN}, CAST(rowid + 1 AS BIGINT) AS {ROW_COLUMN} FROM {table}"
            )
        else:
            if fmt == "jsonl":
                _load_jsonl(con, entry, opts, table, workdir)
            else:
                _load_whole(con, entry, opts, table)
            parts.append(f"SELECT *, CAST(rowid + 1 AS BIGINT) AS {ROW_COLUMN} FROM {table}")
        if on_file is not None:
            on_file(i + 1, len(files))
    if not parts:
        raise ValidationError("no files to load")
    con.execute(f"CREATE OR REPLACE VIEW {SOURCE_VIEW} AS " + " UNION ALL BY NAME ".join(parts))
    return SourceLoad(
        SOURCE_VIEW,
        tuple(files),
        _count(con, f"SELECT count(*) FROM {SOURCE_VIEW}"),
        _count(con, f"SELECT count(*) FROM {REJECTS_TABLE}"),
        sum(f.size for f in files),
    )


def _load_csv(
    con: duckdb.DuckDBPyConnection, entry: FileEntry, opts: ReadOptions, table: str, i: int
) -> None:
    scan, errors = f"_podium_rscan_{i}", f"_podium_rerr_{i}"
    sql = read_sql([entry.path], opts, rejects=(scan, errors))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {sql}")
    except duckdb.Error as exc:
        raise ValidationError(f"cannot read CSV file {entry.path}: {str(exc).splitlines()[0]}") from None
    # One line can break several rules; it is one quarantined record.
    con.execute(
        f"INSERT INTO {REJECTS_TABLE} SELECT {literal(entry.path)}, e.line, "
        "string_agg(CAST(e.error_type AS VARCHAR) || ': ' || e.error_message, '; '), any_value(e.csv_line) "
        f"FROM {errors} e GROUP BY e.line ORDER BY e.line"
    )
    con.execute(f"DROP TABLE IF EXISTS {errors}")
    con.execute(f"DROP TABLE IF EXISTS {scan}")


def _view_parquet(con: duckdb.DuckDBPyConnection, entry: FileEntry, opts: ReadOptions, table: str) -> bool:
    """Make `table` a view over the Parquet file (rows are read when the job runs, once
    per pass, without a copy in memory); False when the file has a column named like
    DuckDB's row-number column, which then needs a copy."""
    sql = read_sql([entry.path], opts, filename=FILE_COLUMN)
    try:
        names = con.sql(f"SELECT * FROM {sql}").columns
    except duckdb.Error as exc:
        raise ValidationError(f"cannot read parquet file {entry.path}: {str(exc).splitlines()[0]}") from None
    if "file_row_number" in names:
        return False
    with_rows = read_sql([entry.path], opts, filename=FILE_COLUMN, row_numbers=True)
    con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {with_rows}")
    return True


def _load_whole(con: duckdb.DuckDBPyConnection, entry: FileEntry, opts: ReadOptions, table: str) -> None:
    sql = read_sql([entry.path], opts, filename=FILE_COLUMN)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {sql}")
    except duckdb.Error as exc:
        raise ValidationError(
            f"cannot read {opts.format} file {entry.path}: {str(exc).splitlines()[0]}"
        ) from None


def _load_jsonl(
    con: duckdb.DuckDBPyConnection, entry: FileEntry, opts: ReadOptions, table: str, workdir: Path
) -> None:
    try:
        _load_whole(con, entry, opts, table)
        return
    except ValidationError:
        pass
    # DuckDB rejects the whole file on one bad line: parse line by line, keep the good
    # records in a clean local copy and quarantine the rest with their line numbers.
    workdir.mkdir(parents=True, exist_ok=True)
    good = Path(tempfile.mkstemp(suffix=".jsonl", dir=workdir)[1])
    rejects: list[tuple[str, int, str, str]] = []
    with fsspec.open(entry.path, "rt", compression="infer", encoding=opts.encoding) as src, good.open("w") as out:
        for number, line in enumerate(src, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                rejects.append((entry.path, number, f"JSON: {exc.msg} at column {exc.colno}", text[:10_000]))
                continue
            if not isinstance(value, dict):
                rejects.append((entry.path, number, "JSON: a record must be an object", text[:10_000]))
                continue
            out.write(text + "\n")
    if rejects:
        con.executemany(f"INSERT INTO {REJECTS_TABLE} VALUES (?, ?, ?, ?)", rejects)
    if good.stat().st_size == 0:
        con.execute(f"CREATE OR REPLACE TABLE {table} ({ident(FILE_COLUMN)} VARCHAR)")
        return
    clean = opts.model_copy(update={"format": "jsonl"})
    sql = read_sql([str(good)], clean)
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT *, {literal(entry.path)} AS {ident(FILE_COLUMN)} FROM {sql}"
    )
