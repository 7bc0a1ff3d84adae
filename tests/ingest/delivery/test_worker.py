"""A delivery stream end to end in one process: buffering, transform, Parquet, partitions, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from podium.ingest.delivery import DeliveryStreams
from podium.ingest.streams.leases import LeaseTable
from podium.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def objects(lake: Path, under: str = "") -> list[Path]:
    root = lake / under
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def data_objects(lake: Path) -> list[Path]:
    return [p for p in objects(lake) if "errors" not in p.parts]


def run_until_idle(worker: Any, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not worker.step():
            return


def test_buffers_by_size(deliveries: DeliveryStreams, lake: Path) -> None:
    deliveries.create({"name": "d", "destination": "raw", "buffer_size_mb": 0.001, "buffer_interval_s": 900})
    deliveries.put_record_batch("d", [b"x" * 99 + b"\n"] * 30)
    worker = deliveries.worker("d", str(lake), batch_limit=5, clock=Clock())
    worker.step()
    worker.step()
    assert data_objects(lake) == []  # 1000 bytes buffered, under the 1048-byte hint
    worker.step()
    [first] = data_objects(lake)  # the third batch reached the hint
    assert first.stat().st_size == 1500
    run_until_idle(worker)
    assert len(data_objects(lake)) == 2 and worker.buffered_records == 0
    deliveries.put_record_batch("d", [b"y" * 99 + b"\n"] * 8)
    run_until_idle(worker)
    assert worker.buffered_records == 8 and len(data_objects(lake)) == 2
    assert worker.flush() == 1
    assert sum(p.stat().st_size for p in data_objects(lake)) == 3800
    name = data_objects(lake)[0].relative_to(lake / "raw")
    assert len(name.parts) == 5  # yyyy/MM/dd/HH/<name>
    assert name.parts[-1].startswith("d-1-")


def test_buffers_by_time_and_checkpoints_after_visible(deliveries: DeliveryStreams, lake: Path, store: Store) -> None:
    deliveries.create({"name": "d", "destination": "raw", "buffer_size_mb": 1, "buffer_interval_s": 60})
    result = deliveries.put_record_batch("d", [b"a\n", b"b\n", b"c\n"])
    clock = Clock()
    worker = deliveries.worker("d", str(lake), clock=clock)
    run_until_idle(worker)
    assert data_objects(lake) == []
    table = LeaseTable(store, "delivery.d", "delivery.d")
    assert table.all()[0].checkpoint == "TRIM_HORIZON"  # nothing visible, nothing checkpointed
    clock.now += 60_000
    worker.step()
    [obj] = data_objects(lake)
    assert sorted(obj.read_bytes().split()) == [b"a", b"b", b"c"]
    assert table.all()[0].checkpoint == result.records[-1].sequence_number


def test_transform_and_error_prefix(deliveries: DeliveryStreams, lake: Path) -> None:
    deliveries.create({"name": "d", "destination": "out", "buffer_size_mb": 1, "buffer_interval_s": 0})

    def transform(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in records:
            if r["data"].startswith(b"drop"):
                out.append({"recordId": r["recordId"], "result": "Dropped"})
            elif r["data"].startswith(b"bad"):
                out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "reason": "bad input"})
            else:
                out.append({"recordId": r["recordId"], "result": "Ok", "data": r["data"].upper()})
        return out

    deliveries.put_record_batch("d", [b"ok1\n", b"drop\n", b"bad1\n", b"ok2\n"])
    worker = deliveries.worker("d", str(lake), transform=transform)
    run_until_idle(worker)
    [data] = data_objects(lake)
    assert data.read_bytes() == b"OK1\nOK2\n"
    [error] = objects(lake, "out/errors/processing-failed")
    line = json.loads(error.read_text())
    assert line["errorCode"] == "processing-failed" and line["errorMessage"] == "bad input"
    assert base64.b64decode(line["rawData"]) == b"bad1\n"
    stats = worker.stats
    assert (stats.records_in, stats.delivered, stats.dropped, stats.failed) == (4, 2, 1, 1)


def test_parquet_conversion_with_schema(deliveries: DeliveryStreams, lake: Path) -> None:
    deliveries.create(
        {
            "name": "d",
            "destination": "tables/orders",
            "buffer_size_mb": 1,
            "buffer_interval_s": 0,
            "format": "parquet",
            "schema": [["id", "int64"], ["customer", "string"], ["amount", "double"]],
        }
    )
    rows = [
        {"id": 1, "customer": "a", "amount": 1.5, "extra": "dropped"},
        {"id": 2, "customer": "b"},
        {"id": "not a number", "customer": "c", "amount": 3.0},
    ]
    two_in_one = b'{"id": 9}{"id": 10}'  # Firehose wants one object per record
    deliveries.put_record_batch("d", [json.dumps(r).encode() for r in rows] + [b"{broken", two_in_one])
    worker = deliveries.worker("d", str(lake))
    run_until_idle(worker)
    worker.flush()
    [data] = data_objects(lake)
    assert data.suffix == ".parquet"
    table = pq.read_table(data)
    assert table.column_names == ["id", "customer", "amount"]
    assert table.to_pylist() == [
        {"id": 1, "customer": "a", "amount": 1.5},
        {"id": 2, "customer": "b", "amount": None},
    ]
    errors = [json.loads(line) for p in objects(lake, "tables/orders/errors") for line in p.read_text().splitlines()]
    assert sorted(e["errorCode"] for e in errors) == ["format-conversion-failed"] * 3
    assert worker.stats.delivered + worker.stats.failed == 5


def test_dynamic_partitioning(deliveries: DeliveryStreams, lake: Path) -> None:
    deliveries.create(
        {
            "name": "d",
            "destination": "events",
            "buffer_size_mb": 1,
            "buffer_interval_s": 1,
            "partition_keys": {"customer": ".customer.id"},
            "prefix": "customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/",
        }
    )
    docs = [{"customer": {"id": i % 3}, "n": i} for i in range(9)] + [{"no": "customer"}]
    deliveries.put_record_batch("d", [json.dumps(d).encode() + b"\n" for d in docs])
    worker = deliveries.worker("d", str(lake))
    run_until_idle(worker)
    worker.flush()
    by_customer = {}
    for path in data_objects(lake):
        part = path.relative_to(lake / "events").parts[0]
        by_customer[part] = sorted(json.loads(x)["n"] for x in path.read_text().splitlines())
    assert by_customer == {"customer=0": [0, 3, 6], "customer=1": [1, 4, 7], "customer=2": [2, 5, 8]}
    [error] = objects(lake, "events/errors/DynamicPartitioning.MetadataExtractionFailed")
    assert "no value at .customer.id" in error.read_text()


def test_a_crash_before_the_flush_redelivers(deliveries: DeliveryStreams, lake: Path) -> None:
    deliveries.create({"name": "d", "destination": "raw", "buffer_size_mb": 1, "buffer_interval_s": 900})
    deliveries.put_record_batch("d", [f"{i}\n".encode() for i in range(20)])
    first = deliveries.worker("d", str(lake), lease_ms=100)
    run_until_idle(first)
    assert first.buffered_records == 20 and data_objects(lake) == []
    del first  # dies with a full buffer: nothing was visible, nothing checkpointed
    import time

    time.sleep(0.15)
    second = deliveries.worker("d", str(lake), lease_ms=100)
    run_until_idle(second)
    second.flush()
    [obj] = data_objects(lake)
    assert sorted(int(x) for x in obj.read_text().split()) == list(range(20))


def test_reads_a_source_stream(deliveries: DeliveryStreams, lake: Path) -> None:
    deliveries.streams.create_stream("clicks", 2)
    deliveries.create({"name": "d", "destination": "clicks", "source_stream": "clicks", "buffer_size_mb": 1, "buffer_interval_s": 0})
    deliveries.streams.put_records("clicks", [(f"{i}\n".encode(), f"k{i}") for i in range(10)])
    worker = deliveries.worker("d", str(lake))
    run_until_idle(worker)
    delivered = sorted(int(x) for p in data_objects(lake) for x in p.read_text().split())
    assert delivered == list(range(10))


FIREHOSE_LAMBDA = '''
import base64

def handler(event, context):
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data == b"skip\\n":
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
        else:
            out.append({"recordId": r["recordId"], "result": "Ok",
                        "data": base64.b64encode(data.upper()).decode()})
    return {"records": out}
'''


def test_transform_by_a_registered_function_with_the_lambda_contract(
    deliveries: DeliveryStreams, lake: Path, tmp_path: Path
) -> None:
    from podium.functions import FunctionPool, FunctionRegistry, FunctionSpec

    (tmp_path / "fh_transform.py").write_text(FIREHOSE_LAMBDA)
    registry = FunctionRegistry([FunctionSpec(name="upper", target="fh_transform:handler")])
    deliveries.create(
        {"name": "d", "destination": "out", "buffer_size_mb": 1, "buffer_interval_s": 0, "transform_function": "upper"}
    )
    deliveries.put_record_batch("d", [b"a\n", b"skip\n", b"b\n"])
    with FunctionPool(size=1, extra_paths=[str(tmp_path)]) as pool:
        worker = deliveries.worker("d", str(lake), registry=registry, pool=pool)
        run_until_idle(worker)
    [data] = data_objects(lake)
    assert data.read_bytes() == b"A\nB\n"
    assert (worker.stats.delivered, worker.stats.dropped) == (2, 1)


def test_kpl_aggregates_are_delivered_as_user_records(
    deliveries: DeliveryStreams, streams: Any, lake: Path
) -> None:
    from podium.ingest.streams.kpl import aggregate

    streams.create_stream("src", 1)
    deliveries.create({"name": "d", "destination": "out", "source_stream": "src", "buffer_size_mb": 1, "buffer_interval_s": 0})
    data, key, route = aggregate([(b"a\n", "k"), (b"b\n", "k"), (b"c\n", "k")])
    streams.put_record("src", data, key, explicit_hash_key=route)
    streams.put_record("src", b"d\n", "k")
    seen_ids: list[str] = []

    def transform(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen_ids.extend(r["recordId"] for r in records)
        return [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in records]

    worker = deliveries.worker("d", str(lake), transform=transform)
    run_until_idle(worker)
    worker.flush()
    assert b"".join(p.read_bytes() for p in data_objects(lake)) == b"a\nb\nc\nd\n"
    assert len(set(seen_ids)) == 4  # sub-records get distinct recordIds
    assert seen_ids[0].endswith(".0") and seen_ids[2].endswith(".2")
