from __future__ import annotations

import pytest

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.delivery import DeliveryDefinition, DeliveryLimits, DeliveryStreams


def test_create_describe_update_delete(deliveries: DeliveryStreams) -> None:
    created = deliveries.create({"name": "d", "destination": "raw/d"})
    assert created.buffer_size_mb == 5 and created.buffer_interval_s == 300  # Firehose defaults
    assert "delivery.d" in deliveries.streams.list_streams()
    assert deliveries.list() == ["d"]
    with pytest.raises(ConflictError):
        deliveries.create({"name": "d", "destination": "raw/d"})
    updated = deliveries.update("d", buffer_interval_s=60)
    assert updated.version == 2 and deliveries.describe("d").buffer_interval_s == 60
    with pytest.raises(ValidationError, match="only be chosen when"):
        deliveries.update("d", partition_keys={"a": ".a"})
    result = deliveries.put_record_batch("d", [b"a", b"b"])
    assert result.failed_record_count == 0
    deliveries.delete("d")
    assert deliveries.list() == [] and "delivery.d" not in deliveries.streams.list_streams()
    with pytest.raises(NotFoundError):
        deliveries.describe("d")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"buffer_size_mb": 0.5}, "buffer_size_mb must be 1.0 to 128.0"),
        ({"buffer_size_mb": 129}, "buffer_size_mb"),
        ({"buffer_interval_s": 901}, "buffer_interval_s must be 0.0 to 900.0"),
        ({"format": "orc"}, "format"),
        ({"format": "parquet"}, "schema is required"),
        ({"format": "parquet", "schema": [["a", "nonsense"]]}, "unknown type"),
        ({"partition_keys": {"c": ".c"}}, "prefix is required"),
        ({"partition_keys": {"c": ".c"}, "prefix": "c=!{partitionKeyFromQuery:c}/", "buffer_interval_s": 0}, "cannot be 0"),
        ({"destination": "/abs"}, "destination"),
        ({"bogus": 1}, "unknown field"),
    ],
)
def test_definitions_are_checked_with_aws_ranges(changes: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=message):
        DeliveryDefinition.from_json({"name": "d", "destination": "raw", **changes}, DeliveryLimits())


def test_direct_put_only_without_source(deliveries: DeliveryStreams) -> None:
    deliveries.streams.create_stream("src", 1)
    deliveries.create({"name": "d", "destination": "raw", "source_stream": "src"})
    with pytest.raises(ValidationError, match="put records there"):
        deliveries.put_record_batch("d", [b"x"])
    with pytest.raises(NotFoundError):
        deliveries.create({"name": "e", "destination": "raw", "source_stream": "missing"})


def test_parquet_delivery_is_a_catalog_table(store, streams, lake) -> None:  # type: ignore[no-untyped-def]
    import json

    import duckdb

    from podium.catalog import get_table, scan_sql

    deliveries = DeliveryStreams(store, streams, DeliveryLimits(min_buffer_mb=0.0001), lake_url=str(lake))
    deliveries.create(
        {
            "name": "orders",
            "destination": "tables/orders",
            "format": "parquet",
            "schema": [["id", "int64"], ["customer", "string"]],
            "partition_keys": {"customer": ".customer"},
            "prefix": "customer=!{partitionKeyFromQuery:customer}/",
            "buffer_size_mb": 1,
            "buffer_interval_s": 1,
            "catalog_table": "orders",
        }
    )
    table = get_table(store, "orders")
    assert table.partition_keys == ("customer",) and table.format == "parquet"
    assert [(c.name, c.type) for c in table.columns] == [("id", "BIGINT"), ("customer", "VARCHAR")]
    rows = [{"id": i, "customer": f"c{i % 2}"} for i in range(6)]
    deliveries.put_record_batch("orders", [json.dumps(r).encode() for r in rows])
    worker = deliveries.worker("orders", str(lake))
    while worker.step():
        pass
    worker.flush()
    con = duckdb.connect()
    counts = con.execute(
        f"SELECT customer, count(*) FROM {scan_sql(store, 'orders', con)} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [("c0", 3), ("c1", 3)]


def test_catalog_table_needs_parquet() -> None:
    with pytest.raises(ValidationError, match="catalog_table"):
        DeliveryDefinition.from_json({"name": "d", "destination": "raw", "catalog_table": "t"}, DeliveryLimits())
