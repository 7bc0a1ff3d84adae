"""The streams service on both backends (embedded log and real Redis)."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.streams import PutRecordsEntry, StreamsClient
from podium.ingest.streams.routing import hash_key


def read_shard(client: StreamsClient, stream: str, shard_id: str, kind: str = "TRIM_HORIZON", **kw):  # type: ignore[no-untyped-def]
    iterator = client.get_shard_iterator(stream, shard_id, kind, **kw)
    out = []
    while iterator is not None:
        page = client.get_records(iterator, limit=7)
        out.extend(page.records)
        if not page.records and page.next_shard_iterator is not None:
            break
        iterator = page.next_shard_iterator
    return out


def read_in_lineage_order(client: StreamsClient, stream: str):  # type: ignore[no-untyped-def]
    """Every shard, parents before children, as a consumer must."""
    shards = client.list_shards(stream)
    done: set[str] = set()
    records = []
    while len(done) < len(shards):
        for shard in shards:
            parents = {p for p in (shard.parent_shard_id, shard.adjacent_parent_shard_id) if p}
            if shard.shard_id not in done and parents <= done:
                records.extend(read_shard(client, stream, shard.shard_id))
                done.add(shard.shard_id)
    return records


def test_create_describe_list_delete(client: StreamsClient) -> None:
    meta = client.create_stream("orders", shard_count=3, retention_hours=48)
    assert [s.shard_id for s in meta.shards] == [f"shardId-00000000000{i}" for i in range(3)]
    assert client.describe_stream("orders").retention_hours == 48
    assert "orders" in client.list_streams()
    with pytest.raises(ConflictError):
        client.create_stream("orders", 1)
    client.delete_stream("orders")
    assert "orders" not in client.list_streams()
    with pytest.raises(NotFoundError):
        client.describe_stream("orders")
    with pytest.raises(NotFoundError):
        client.put_record("orders", b"x", "k")


def test_puts_route_by_hash_and_keep_order_per_shard(client: StreamsClient) -> None:
    meta = client.create_stream("s", shard_count=4)
    entries = [PutRecordsEntry(f"{i}".encode(), f"key-{i % 13}") for i in range(200)]
    result = client.put_records("s", entries)
    assert result.failed_record_count == 0
    ranges = {s.shard_id: (s.starting_hash_key, s.ending_hash_key) for s in meta.shards}
    for entry, out in zip(entries, result.records, strict=True):
        lo, hi = ranges[out.shard_id]
        assert lo <= hash_key(entry.partition_key) <= hi
    total = 0
    for shard in meta.shards:
        records = read_shard(client, "s", shard.shard_id)
        seqs = [r.sequence_number for r in records]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        values = [int(r.data) for r in records]
        assert values == sorted(values)  # put order within the shard
        total += len(records)
    assert total == 200


def test_partial_failure_is_reported_per_record(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=2)
    result = client.put_records(
        "s",
        [
            (b"ok-1", "a"),
            (b"bad", ""),
            (b"ok-2", "b"),
            (b"x" * (1024 * 1024), "big"),
            (b"bad-hash", "c", "not-a-number"),
        ],
    )
    assert result.failed_record_count == 3
    assert result.failed() == [1, 3, 4]
    assert result.records[0].sequence_number is not None
    assert result.records[1].error_code == "ValidationError"
    assert "partition key" in (result.records[1].error_message or "")
    written = [r.data for s in client.list_shards("s") for r in read_shard(client, "s", s.shard_id)]
    assert sorted(written) == [b"ok-1", b"ok-2"]
    with pytest.raises(ValidationError):
        client.put_records("s", [(b"x", "k")] * 501)
    with pytest.raises(ValidationError):
        client.put_record("s", b"x", "")


def test_every_iterator_type(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=1)
    shard = "shardId-000000000000"
    first = [client.put_record("s", f"a{i}".encode(), "k").sequence_number for i in range(3)]
    latest = client.get_shard_iterator("s", shard, "LATEST")
    time.sleep(0.01)
    boundary = time.time()
    time.sleep(0.01)
    second = [client.put_record("s", f"b{i}".encode(), "k").sequence_number for i in range(3)]

    def data(records):  # type: ignore[no-untyped-def]
        return [r.data.decode() for r in records]

    assert data(read_shard(client, "s", shard)) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert data(client.get_records(latest).records) == ["b0", "b1", "b2"]
    assert data(read_shard(client, "s", shard, "AT_SEQUENCE_NUMBER", starting_sequence_number=first[2])) == ["a2", "b0", "b1", "b2"]
    assert data(read_shard(client, "s", shard, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=first[2])) == ["b0", "b1", "b2"]
    assert data(read_shard(client, "s", shard, "AT_TIMESTAMP", timestamp=boundary)) == ["b0", "b1", "b2"]
    assert read_shard(client, "s", shard, "AT_TIMESTAMP", timestamp=time.time() + 60) == []
    assert second[0] > first[2]
    with pytest.raises(ValidationError):
        client.get_shard_iterator("s", shard, "AT_SEQUENCE_NUMBER")
    with pytest.raises(NotFoundError):
        client.get_shard_iterator("s", "shardId-000000000009", "LATEST")


def test_millis_behind_latest(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=1)
    client.put_records("s", [(b"x", "k")] * 5)
    time.sleep(0.05)
    iterator = client.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    page = client.get_records(iterator, limit=2)
    assert len(page.records) == 2 and page.millis_behind_latest >= 40
    page = client.get_records(page.next_shard_iterator, limit=100)  # type: ignore[arg-type]
    assert len(page.records) == 3 and page.millis_behind_latest == 0
    page = client.get_records(page.next_shard_iterator)  # type: ignore[arg-type]
    assert page.records == [] and page.next_shard_iterator is not None


def test_expired_iterator(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=1)
    iterator = client.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    later = StreamsClient(client.backend, clock=lambda: time.time_ns() // 10**6 + 301_000)
    with pytest.raises(ValidationError) as info:
        later.get_records(iterator)
    assert info.value.code == "ExpiredIterator"


def test_split_and_merge_keep_per_key_order(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=2)
    counter = defaultdict(int)

    def put_round() -> None:
        batch = []
        for i in range(60):
            key = f"user-{i % 17}"
            batch.append((f"{key}:{counter[key]}".encode(), key))
            counter[key] += 1
        assert client.put_records("s", batch).failed_record_count == 0

    put_round()
    meta = client.split_shard("s", "shardId-000000000000", str(2**126))
    assert len(meta.open_shards()) == 3
    put_round()
    meta = client.merge_shards("s", "shardId-000000000002", "shardId-000000000003")
    assert len(meta.open_shards()) == 2
    put_round()
    client.update_shard_count("s", 4)
    put_round()
    parent = client.describe_stream("s").shard("shardId-000000000000")
    assert parent.ending_sequence is not None
    # The closed parent reads to its end, then names its children.
    iterator = client.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    page = client.get_records(iterator)
    assert page.next_shard_iterator is None
    assert set(page.child_shards) == {"shardId-000000000002", "shardId-000000000003"}
    seen = defaultdict(list)
    for record in read_in_lineage_order(client, "s"):
        key, n = record.data.decode().split(":")
        seen[key].append(int(n))
    assert dict(seen) == {k: list(range(v)) for k, v in counter.items()}


def test_put_after_another_client_resharded(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=1)
    client.put_record("s", b"before", "k")
    other = StreamsClient(client.backend)
    other.split_shard("s", "shardId-000000000000", str(2**127))
    entry = client.put_record("s", b"after", "k")  # the cached shard map is stale
    assert entry.shard_id in ("shardId-000000000001", "shardId-000000000002")


def test_retention_expires_records(client: StreamsClient) -> None:
    client.create_stream("s", shard_count=1, retention_hours=1)
    client.put_records("s", [(b"old", "k")] * 3)
    later = StreamsClient(client.backend, clock=lambda: time.time_ns() // 10**6 + 2 * 3_600_000)
    assert read_shard(later, "s", "shardId-000000000000") == []
    assert len(read_shard(client, "s", "shardId-000000000000")) == 3
    client.set_retention("s", 24)
    assert client.describe_stream("s").retention_hours == 24
    with pytest.raises(ValidationError):
        client.set_retention("s", 0)


def test_per_stream_metrics(embedded_client: StreamsClient) -> None:
    from podium.metrics import MetricStore

    metrics = MetricStore()
    client = StreamsClient(embedded_client.backend, metrics=metrics)
    client.create_stream("s", 1)
    client.put_records("s", [(b"abc", "k"), (b"de", "k"), (b"x", "")])
    iterator = client.get_shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    client.get_records(iterator, limit=1)
    stream = (("StreamName", "s"),)
    assert metrics.total("IncomingRecords", stream) == 2
    assert metrics.total("IncomingBytes", stream) == 5
    assert metrics.total("PutRecords.FailedRecords", stream) == 1
    assert metrics.total("GetRecords.Records", stream) == 1
    series = list(metrics.keys())
    assert ("GetRecords.IteratorAgeMilliseconds", stream) in series


def test_switchable_shard_throttling(embedded_client: StreamsClient) -> None:
    from podium.ingest.streams import StreamLimits

    now = [1_000_000]
    limits = StreamLimits(shard_records_per_s=10, shard_bytes_per_s=1000)
    client = StreamsClient(embedded_client.backend, limits, clock=lambda: now[0])
    client.create_stream("s", 1)
    result = client.put_records("s", [(b"x", "k")] * 15)
    assert result.failed_record_count == 5
    assert {r.error_code for r in result.records[10:]} == {"ProvisionedThroughputExceededException"}
    now[0] += 500  # half a second refills half the budget
    assert client.put_records("s", [(b"x", "k")] * 6).failed_record_count == 1
    now[0] += 1000
    assert client.put_records("s", [(b"x" * 600, "k")] * 2).failed_record_count == 1  # bytes


@pytest.mark.redis
def test_redis_retention_trims_and_expires_closed_shards(redis_client: StreamsClient) -> None:
    client = redis_client
    client.create_stream("s", shard_count=1, retention_hours=1)
    client.put_records("s", [(b"old", "k")] * 3)
    client.split_shard("s", "shardId-000000000000", str(2**127))
    later = StreamsClient(client.backend, clock=lambda: time.time_ns() // 10**6 + 2 * 3_600_000)
    meta = later.enforce_retention("s")
    assert meta.shard("shardId-000000000000").expired
    assert "shardId-000000000000" not in [s.shard_id for s in client.list_shards("s")]
    # The records are gone from Redis itself, not just hidden by the cut-off.
    backend = client.backend
    assert backend._redis.xlen(backend._key("s", "shardId-000000000000")) == 0  # type: ignore[attr-defined]


def test_switchable_read_throttling(embedded_client: StreamsClient) -> None:
    from podium.ingest.streams import StreamLimits
    from podium.ingest.streams.throttling import ThroughputExceededError

    now = [1_000_000]
    limits = StreamLimits(shard_read_tps=5, shard_read_bytes_per_s=1000)
    client = StreamsClient(embedded_client.backend, limits, clock=lambda: now[0])
    client.create_stream("s", 2)
    client.put_records("s", [(b"x" * 100, "k")] * 30)  # one key: all in one shard
    shard = client.put_record("s", b"y", "k").shard_id
    other = next(s.shard_id for s in client.list_shards("s") if s.shard_id != shard)
    iterator = client.get_shard_iterator("s", shard, "LATEST")
    for _ in range(5):
        client.get_records(iterator)
    with pytest.raises(ThroughputExceededError) as raised:
        client.get_records(iterator)  # the sixth call within one second
    assert raised.value.code == "ProvisionedThroughputExceededException"
    assert raised.value.http_status == 429 and "shard_read_tps" in raised.value.message
    client.get_records(client.get_shard_iterator("s", other, "TRIM_HORIZON"))  # per shard
    now[0] += 1000
    # A read larger than the byte budget succeeds, then the shard pays the debt back.
    start = client.get_shard_iterator("s", shard, "TRIM_HORIZON")
    page = client.get_records(start)
    assert len(page.records) == 31
    with pytest.raises(ThroughputExceededError, match="shard_read_bytes_per_s"):
        client.get_records(page.next_shard_iterator)  # type: ignore[arg-type]
    now[0] += 2000  # 3,001 bytes read from a 1,000-byte budget: 2,001 of debt, still throttled
    with pytest.raises(ThroughputExceededError):
        client.get_records(start)
    now[0] += 1100
    assert len(client.get_records(start).records) == 31  # the same iterator, retried


def test_consumer_backs_off_a_throttled_shard(embedded_client: StreamsClient, store) -> None:  # type: ignore[no-untyped-def]
    from podium.ingest.streams import StreamLimits
    from podium.ingest.streams.consumer import Consumer

    now = [1_000_000]
    client = StreamsClient(embedded_client.backend, StreamLimits(shard_read_tps=1), clock=lambda: now[0])
    client.create_stream("s", 1)
    client.put_records("s", [(f"{i}".encode(), "k") for i in range(6)])
    consumer = Consumer(client, store, "app", "s", batch_limit=3, clock=lambda: now[0])
    first = consumer.poll()
    assert first is not None and len(first.records) == 3
    assert consumer.poll() is None and consumer.stats.throttled == 1  # over 1 call/s
    now[0] += 100
    assert consumer.poll() is None and consumer.stats.throttled == 1  # backing off: no call
    now[0] += 1000
    second = consumer.poll()
    assert second is not None and [r.data for r in second.records] == [b"3", b"4", b"5"]
