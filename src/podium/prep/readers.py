"""DuckDB table expressions that read files: CSV, JSON Lines, JSON arrays and Parquet,
plain or compressed (.gz, .zst), from any URL the engine can reach; `key=value/` folders become columns with `hive`.

This is the one place that knows DuckDB's reader options; batch sources, recipe joins
and previews all read files through `read_sql`.
"""

from __future__ import annotations

import os
from typing import Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from podium.errors import ValidationError
from podium.prep.quoting import literal

Format = Literal["csv", "jsonl", "json", "parquet"]

_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class ReadOptions(BaseModel):
    """How to read files. `format` None means: from the file extension."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Format | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=4)
    header: bool = True
    encoding: str = "utf-8"
    quote: str | None = Field(default=None, max_length=1)
    columns: dict[str, str] | None = Field(
        default=None, description="Column types to use instead of sniffed ones (CSV/JSON)."
    )


def split_compression(path: str) -> tuple[str, str | None]:
    """('data.csv', 'gzip') for 'data.csv.gz'."""
    lower = path.lower()
    for ext, comp in _COMPRESSIONS.items():
        if lower.endswith(ext):
            return path[: -len(ext)], comp
    return path, None


def detect_format(path: str) -> Format:
    """The format a path's extension names (compression suffixes are skipped)."""
    stem, _ = split_compression(path.rstrip("/"))
    lower = stem.lower()
    for ext, fmt in _EXTENSIONS.items():
        if lower.endswith(ext):
            return fmt
    raise ValidationError(
        f"cannot tell the format of '{path}' from its extension; give format: csv, jsonl, json or parquet"
    )


def _path_list(paths: list[str]) -> str:
    return "[" + ", ".join(literal(p) for p in paths) + "]"


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}"


def read_sql(
    paths: list[str],
    options: ReadOptions | None = None,
    *,
    filename: str | None = None,
    lenient: bool = False,
    rejects: tuple[str, str] | None = None,
    hive: bool = False,
    row_numbers: bool = False,
) -> str:
    """A table expression reading `paths` (all of one format).

    `filename` names a column to add holding each row's file path. `lenient` (CSV) skips rows that do not parse;
    with `rejects=(scan_table, error_table)` those rows are stored in the two tables
    (file, line, reason) instead of silently dropped. Compression is detected per file
    from the extension by DuckDB.
    """
    if not paths:
        raise ValidationError("no files to read")
    opts = options or ReadOptions()
    fmt = opts.format or detect_format(paths[0])
    files = _path_list(paths)
    args: list[str] = []
    if fmt == "csv":
        if opts.delimiter is not None:
            args.append(f"delim = {literal(opts.delimiter)}")
        if opts.quote is not None:
            args.append(f"quote = {literal(opts.quote)}")
        args.append(f"header = {'true' if opts.header else 'false'}")
        if opts.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            args.append(f"encoding = {literal(opts.encoding)}")
        if opts.columns:
            args.append(f"types = {_struct(opts.columns)}")
        if rejects is not None:
            # DuckDB keeps rejects only for single-schema scans (no union_by_name).
            args.append("store_rejects = true")
            args.append(f"rejects_scan = {literal(rejects[0])}")
            args.append(f"rejects_table = {literal(rejects[1])}")
        else:
            args.append("union_by_name = true")
            if lenient:
                args.append("ignore_errors = true")
        func = "read_csv"
    elif fmt in ("jsonl", "json"):
        args.append("format = " + ("'newline_delimited'" if fmt == "jsonl" else "'auto'"))
        if opts.columns:
            args.append(f"columns = {_struct(opts.columns)}")
        args.append("union_by_name = true")
        if lenient:
            args.append("ignore_errors = true")
        func = "read_json"
    else:
        args.append("union_by_name = true")
        if row_numbers:
            # Each row's 0-based position in its file, as column `file_row_number`.
            args.append("file_row_number = true")
        func = "read_parquet"
    if filename:
        args.append(f"filename = {literal(filename)}")
    if hive:
        args.append("hive_partitioning = true")
    return f"{func}({files}, {', '.join(args)})"


def pinned_read_sql(con: duckdb.DuckDBPyConnection, paths: list[str]) -> str:
    """`read_sql(paths)`, except that one plain local CSV file is sniffed now, once.

    DuckDB sniffs a CSV file's dialect and column types (reading a sample) every time a
    query over it is bound, and checking a recipe binds one query per step: about 0.05
    CPU-s each, 0.5-0.7 s per recipe. The table expression returned here carries what
    the sniffer found (delimiter, quoting, header, types), as DuckDB's `sniff_csv` states
    it, so later binds read no sample; the rows read are the same. Other inputs (several
    files, globs, remote or compressed files, other formats), or a file the sniffer cannot
    read, get `read_sql(paths)` unchanged.
    """
    plain = read_sql(paths)
    if len(paths) != 1 or any(ch in paths[0] for ch in "*?[") or not os.path.isfile(paths[0]):
        return plain
    stem, compression = split_compression(paths[0])
    if compression is not None or detect_format(paths[0]) != "csv":
        return plain
    try:
        prompt = con.execute("SELECT Prompt FROM sniff_csv(?, header = true)", [paths[0]]).fetchall()[0][0]
    except duckdb.Error:
        return plain
    text = str(prompt).strip().rstrip(";")
    if not text.startswith("FROM read_csv("):
        return plain
    return text[len("FROM ") :]
