"""Ingestion from a catalog table and from a batch job's committed output."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from podium.catalog import crawl
from podium.config import Settings
from podium.errors import NotFoundError, ValidationError
from podium.features import FeatureStore
from podium.ingest.batch.jobs import create_job, parse_job
from podium.ingest.batch.runner import run_job
from podium.store import Store

T = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def orders(fs: FeatureStore) -> FeatureStore:
    fs.create_group("orders", record_identifiers="id", event_time="ts",
                    features={"id": "int64", "ts": "timestamp", "amount": "float64", "city": "string"})
    return fs


def _parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_catalog_table_rows_become_feature_rows(orders: FeatureStore, store: Store, tmp_path: Path) -> None:
    root = tmp_path / "raw_orders"
    _parquet(root / "a.parquet", pa.table({"id": [1, 2], "ts": [T, T], "amount": [1.5, 2.5],
                                           "city": ["x", "y"], "note": ["n1", "n2"]}))
    _parquet(root / "b.parquet", pa.table({"id": [3], "ts": [T], "amount": [3.5],
                                           "city": ["z"], "note": ["n3"]}))
    crawl(store, str(root), name="raw_orders")

    result = orders.ingest_catalog_table("orders", "raw_orders", where="amount > 2")
    assert (result.rows, result.rows_online) == (2, 2)
    got = orders.query("SELECT id, amount, city FROM orders ORDER BY id").to_pylist()
    assert got == [{"id": 2, "amount": 2.5, "city": "y"}, {"id": 3, "amount": 3.5, "city": "z"}]
    assert orders.get_record("orders", 3)["city"] == "z"
    [ingestion] = orders.lineage.ingestions("orders")
    assert (ingestion.kind, ingestion.source) == ("catalog", "catalog:raw_orders@v1")
    assert ingestion.details["ignored_columns"] == ["note"]


def test_catalog_columns_can_be_mapped_and_problems_are_named(
    orders: FeatureStore, store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "other"
    _parquet(root / "a.parquet", pa.table({"order_id": [7], "when": [T], "amount": ["12"]}))
    crawl(store, str(root), name="other")
    with pytest.raises(ValidationError, match="column 'amount' row 0"):
        orders.ingest_catalog_table("orders", "other", columns={"id": "order_id", "ts": "when"})
    assert orders.query("SELECT count(*) AS n FROM orders").to_pylist() == [{"n": 0}]
    with pytest.raises(ValidationError, match="no column 'nope'"):
        orders.ingest_catalog_table("orders", "other", columns={"id": "nope"})
    with pytest.raises(ValidationError, match="column 'id' is required"):
        orders.ingest_catalog_table("orders", "other")
    with pytest.raises(NotFoundError, match="catalog table 'missing'"):
        orders.ingest_catalog_table("orders", "missing")
    with pytest.raises(ValidationError, match="column 'amount' has type string, not float64"):
        orders.ingest_catalog_table("orders", "other", columns={"id": "order_id", "ts": "when"},
                                    where="false")  # even with no rows selected
    result = orders.ingest_catalog_table("orders", "other", columns={"id": "order_id", "ts": "when",
                                                                     "city": "amount"})
    assert orders.get_record("orders", 7)["city"] == "12"
    assert orders.lineage.ingestions("orders")[-1].details["ignored_columns"] == []
    assert result.rows == 1


def _job(store: Store, src: Path, **extra: object) -> None:
    create_job(store, parse_job({
        "name": "orders-job", "source": {"path": str(src)},
        "output": {"dataset": "orders_out", "partition_by": ["city"]}, "bookmark": "enable", **extra,
    }))


def test_batch_run_output_is_read_from_its_commit(
    orders: FeatureStore, settings: Settings, store: Store, tmp_path: Path
) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    (src / "a.csv").write_text("id,ts,amount,city\n1,2024-03-01T12:00:00Z,1.5,x\n2,2024-03-01T13:00:00Z,2.5,y\n")
    _job(store, src)
    first = run_job(settings, store, "orders-job")
    (src / "b.csv").write_text("id,ts,amount,city\n3,2024-03-02T12:00:00Z,3.5,x\n")
    second = run_job(settings, store, "orders-job")
    # A file in the dataset folder that no committed run wrote is never read.
    stray = Path(settings.lake_url) / "orders_out" / "city=x" / "stray.parquet"
    _parquet(stray, pa.table({"id": [99], "ts": [T], "amount": [9.9]}))

    result = orders.ingest_batch_output("orders", first.run_id)
    assert result.rows == 2
    result = orders.ingest_batch_output("orders", job="orders-job")  # its latest successful run
    assert result.rows == 1
    got = orders.query("SELECT id, amount, city FROM orders ORDER BY id").to_pylist()
    assert got == [{"id": 1, "amount": 1.5, "city": "x"}, {"id": 2, "amount": 2.5, "city": "y"},
                   {"id": 3, "amount": 3.5, "city": "x"}]  # city from the key=value folders
    sources = [i.source for i in orders.lineage.ingestions("orders")]
    assert sources == [f"batch:orders-job/{first.run_id}", f"batch:orders-job/{second.run_id}"]


def test_batch_run_that_did_not_succeed_is_refused(
    orders: FeatureStore, settings: Settings, store: Store, tmp_path: Path
) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    (src / "a.csv").write_text("id,ts,amount,city\n1,2024-03-01T12:00:00Z,1.5,x\n")
    _job(store, src, contract={"columns": {"customer": {"required": True}}})
    with pytest.raises(ValidationError, match="required column"):
        run_job(settings, store, "orders-job")
    from podium.ingest.batch.runner import list_runs

    [failed] = list_runs(store, "orders-job")
    with pytest.raises(ValidationError, match="is FAILED"):
        orders.ingest_batch_output("orders", failed["id"])
    with pytest.raises(ValidationError, match="no successful run"):
        orders.ingest_batch_output("orders", job="orders-job")
    with pytest.raises(NotFoundError):
        orders.ingest_batch_output("orders", "no-such-run")
