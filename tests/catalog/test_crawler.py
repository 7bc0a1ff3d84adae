"""The crawler: schema and partition inference, and schema versions as files change."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from podium.catalog import crawl, get_table, list_tables, versions
from podium.catalog.crawler import partition_keys
from podium.errors import ValidationError


def _write(root: Path, rel: str, table: pa.Table) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_crawl_infers_schema_and_partitions(store, tmp_path: Path) -> None:
    root = tmp_path / "sales"
    _write(root, "year=2024/month=1/a.parquet", pa.table({"id": [1], "amount": [1.5]}))
    _write(root, "year=2024/month=2/b.parquet", pa.table({"id": [2], "amount": [2.5]}))
    result = crawl(store, str(root))
    assert result.created and result.files == 2
    table = result.table
    assert (table.name, table.format, table.partition_keys, table.version) == ("sales", "parquet", ("year", "month"), 1)
    assert [(c.name, c.type) for c in table.columns] == [
        ("id", "BIGINT"), ("amount", "DOUBLE"), ("year", "BIGINT"), ("month", "BIGINT"),
    ]
    assert [t.name for t in list_tables(store)] == ["sales"]


def test_recrawl_records_added_removed_and_retyped_columns(any_store, tmp_path: Path) -> None:
    root = tmp_path / "events"
    _write(root, "a.parquet", pa.table({"id": [1], "kind": ["x"], "score": [1]}))
    crawl(any_store, str(root))
    again = crawl(any_store, str(root))
    assert again.change is None and again.table.version == 1
    (root / "a.parquet").unlink()
    _write(root, "b.parquet", pa.table({"id": [1], "score": [1.5], "user": ["u"]}))
    changed = crawl(any_store, str(root))
    assert changed.table.version == 2
    change = changed.change
    assert change is not None
    assert [c.name for c in change.added] == ["user"]
    assert [c.name for c in change.removed] == ["kind"]
    assert change.retyped == (("score", "BIGINT", "DOUBLE"),)
    history = versions(any_store, "events")
    assert [v.version for v in history] == [1, 2]
    assert history[1].changes["retyped"] == [{"name": "score", "from": "BIGINT", "to": "DOUBLE"}]
    assert get_table(any_store, "events").version == 2


def test_crawl_csv_with_glob_and_name(store, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("k,v\nx,1\n")
    (tmp_path / "raw" / "notes.txt").write_text("hello")
    result = crawl(store, str(tmp_path / "raw" / "*.csv"), name="kv")
    assert result.table.name == "kv" and result.table.format == "csv"
    assert [(c.name, c.type) for c in result.table.columns] == [("k", "VARCHAR"), ("v", "BIGINT")]


def test_inconsistent_partitions_are_rejected() -> None:
    with pytest.raises(ValidationError, match="disagree on partition folders"):
        partition_keys("/r", ["/r/a=1/x.parquet", "/r/b=2/y.parquet"])
    assert partition_keys("/r", ["/r/a=1/b=2/x.parquet"]) == ("a", "b")


def test_scan_reads_partitions(store, tmp_path: Path) -> None:
    from podium.catalog import scan_sql
    from podium.prep.engine import connect

    root = tmp_path / "t"
    _write(root, "day=1/a.parquet", pa.table({"v": [1, 2]}))
    _write(root, "day=2/a.parquet", pa.table({"v": [3]}))
    crawl(store, str(root))
    con = connect()
    rows = con.sql(f"SELECT day, sum(v) FROM {scan_sql(store, 't', con)} GROUP BY day ORDER BY day").fetchall()
    assert rows == [(1, 3), (2, 3)]


def test_tables_written_by_jobs_are_not_crawled(store, tmp_path: Path) -> None:
    from podium.catalog import put_table
    from podium.catalog.schema import Column
    from podium.errors import ConflictError

    with store.begin() as conn:
        put_table(conn, "orders", location=str(tmp_path / "o"), format="parquet", columns=[Column("id", "BIGINT")],
                  managed_by="orders-job", dataset="orders")
    _write(tmp_path / "o", "a.parquet", pa.table({"id": [1]}))
    with pytest.raises(ConflictError, match="written by batch job 'orders-job'"):
        crawl(store, str(tmp_path / "o"), name="orders")
