"""Sources: every format, compression, fsspec URLs, and lenient parsing into rejects."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from podium.errors import NotFoundError, ValidationError
from podium.ingest.batch.sources import REJECTS_TABLE, list_files, load_files
from podium.prep.engine import connect
from podium.prep.readers import ReadOptions

ROWS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]


def _csv_bytes(sep: str = ",") -> bytes:
    return ("id" + sep + "name\n" + "".join(f"{r['id']}{sep}{r['name']}\n" for r in ROWS)).encode()


def _jsonl_bytes() -> bytes:
    return "".join(json.dumps(r) + "\n" for r in ROWS).encode()


def _load(paths: list[Path] | str, options: ReadOptions | None = None, tmp: Path | None = None):
    con = connect()
    files = list_files(str(paths)) if isinstance(paths, (str, Path)) else [e for p in paths for e in list_files(str(p))]
    load = load_files(con, files, options or ReadOptions(), tmp or Path("/tmp"))
    rows = con.sql(f"SELECT * EXCLUDE (_podium_file) FROM {load.view} ORDER BY id").fetchall()
    rejects = con.sql(f"SELECT file, line, reason FROM {REJECTS_TABLE} ORDER BY file, line").fetchall()
    return load, rows, rejects


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("d.csv", _csv_bytes()),
        ("d.csv.gz", gzip.compress(_csv_bytes(), mtime=0)),
        ("d.csv.zst", zstandard.ZstdCompressor().compress(_csv_bytes())),
        ("d.jsonl", _jsonl_bytes()),
        ("d.jsonl.gz", gzip.compress(_jsonl_bytes(), mtime=0)),
        ("d.jsonl.zst", zstandard.ZstdCompressor().compress(_jsonl_bytes())),
        ("d.json", json.dumps(ROWS).encode()),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_format_and_compression(tmp_path: Path, name: str, payload: bytes) -> None:
    (tmp_path / name).write_bytes(payload)
    load, rows, rejects = _load(tmp_path / name, tmp=tmp_path / "work")
    assert rows == [(1, "a", 1), (2, "b", 2), (3, "c", 3)]
    assert load.rows_parsed == 3 and load.rows_rejected == 0 and rejects == []


def test_parquet_and_directory_listing_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "in" / "part.parquet")
    (tmp_path / "in" / "_SUCCESS").write_text("")
    (tmp_path / "in" / ".hidden.parquet").write_text("junk")
    files = list_files(str(tmp_path / "in"))
    assert [Path(f.path).name for f in files] == ["part.parquet"]
    assert files[0].size > 0 and files[0].mtime > 0
    _, rows, _ = _load(tmp_path / "in", tmp=tmp_path)
    assert rows == [(1, "a", 1), (2, "b", 2), (3, "c", 3)]


def test_csv_delimiter_header_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_bytes("1;é\n2;ü\n".encode("latin-1"))
    opts = ReadOptions(format="csv", delimiter=";", header=False, encoding="latin-1")
    con = connect()
    load = load_files(con, list_files(str(path)), opts, tmp_path)
    assert con.sql(f"SELECT column0, column1 FROM {load.view}").fetchall() == [(1, "é"), (2, "ü")]


def test_memory_filesystem_and_glob() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/podium-src-test/a/1.csv", _csv_bytes())
    fs.pipe("/podium-src-test/a/2.csv", b"id,name\n4,d\n")
    fs.pipe("/podium-src-test/a/3.json", b"[]")
    try:
        files = list_files("memory:///podium-src-test/a/*.csv")
        assert [f.path for f in files] == ["memory:///podium-src-test/a/1.csv", "memory:///podium-src-test/a/2.csv"]
        con = connect()
        load = load_files(con, files, ReadOptions(), Path("/tmp"))
        got = con.sql(f"SELECT id, _podium_file, _podium_row FROM {load.view} ORDER BY id").fetchall()
        assert got[-1] == (4, "memory:///podium-src-test/a/2.csv", 1)
        assert load.rows_parsed == 4
    finally:
        fs.rm("/podium-src-test", recursive=True)


def test_bad_csv_lines_become_rejects_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,name\n1,a\n2,b,extra\n3\n4,d\n")
    load, rows, rejects = _load(path, ReadOptions(columns={"id": "BIGINT", "name": "VARCHAR"}), tmp_path)
    assert [r[0] for r in rows] == [1, 4]
    assert [(line, reason.split(":")[0]) for _, line, reason in rejects] == [
        (3, "TOO MANY COLUMNS"),
        (4, "MISSING COLUMNS"),
    ]
    assert load.rows_parsed + load.rows_rejected == 4


def test_bad_jsonl_lines_fall_back_to_line_parser(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": 1, "name": "a"}\n{"id": 2, "name": \n\n[1, 2]\n{"id": 3, "name": "c"}\n'))
    load, rows, rejects = _load(path, tmp=tmp_path / "w")
    assert rows == [(1, "a", 1), (3, "c", 2)]
    assert [(line, reason.startswith("JSON")) for _, line, reason in rejects] == [(2, True), (4, True)]


def test_corrupt_parquet_fails_with_file_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ValidationError, match="bad.parquet"):
        _load(path, tmp=tmp_path)


def test_missing_source() -> None:
    with pytest.raises(NotFoundError):
        list_files("/no/such/dir/podium")
