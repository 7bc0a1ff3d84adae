"""Enhanced fan-out: registered consumers, pushed shard events, subscription rules."""

from __future__ import annotations

import time

import pytest

from podium.errors import ConflictError, NotFoundError
from podium.ingest.streams import StreamLimits, StreamsClient
from podium.ingest.streams.fanout import ShardSubscription, SubscribeToShardEvent
from podium.ingest.streams.throttling import ThroughputExceededError

SHARD = "shardId-000000000000"


def collect(sub: ShardSubscription, want: int, timeout_s: float = 10.0) -> list[SubscribeToShardEvent]:
    events: list[SubscribeToShardEvent] = []
    deadline = time.monotonic() + timeout_s
    while sum(len(e.records) for e in events) < want and time.monotonic() < deadline:
        event = sub.next_event(timeout=0.2)
        if event is not None:
            events.append(event)
        elif sub.done:
            break
    return events


def test_register_list_describe_deregister(client: StreamsClient) -> None:
    client.create_stream("s", 1)
    billing = client.register_stream_consumer("s", "billing")
    assert billing.arn.startswith("arn:podium:kinesis:local:stream/s/consumer/billing:")
    assert billing.to_dict()["ConsumerStatus"] == "ACTIVE"
    client.register_stream_consumer("s", "audit")
    assert [c.name for c in client.list_stream_consumers("s")] == ["billing", "audit"]
    assert client.describe_stream_consumer(consumer_arn=billing.arn) == billing
    with pytest.raises(ConflictError) as taken:
        client.register_stream_consumer("s", "billing")
    assert taken.value.code == "ResourceInUse"
    client.put_record("s", b"still writable after the metadata changed", "k")
    client.deregister_stream_consumer("s", "billing")
    assert [c.name for c in client.list_stream_consumers("s")] == ["audit"]
    with pytest.raises(NotFoundError):
        client.describe_stream_consumer(consumer_arn=billing.arn)


def test_consumer_limit_is_a_setting(embedded_client: StreamsClient) -> None:
    client = StreamsClient(embedded_client.backend, StreamLimits(max_stream_consumers=2))
    client.create_stream("s", 1)
    client.register_stream_consumer("s", "a")
    client.register_stream_consumer("s", "b")
    with pytest.raises(ConflictError, match="max_stream_consumers") as raised:
        client.register_stream_consumer("s", "c")
    assert raised.value.code == "LimitExceeded"


def test_records_are_pushed_and_continuation_resumes(client: StreamsClient) -> None:
    client.create_stream("s", 1)
    client.put_records("s", [(f"{i}".encode(), "k") for i in range(5)])
    arn = client.register_stream_consumer("s", "billing").arn
    with client.subscribe_to_shard(arn, SHARD, "TRIM_HORIZON") as sub:
        first = collect(sub, 5)
        client.put_records("s", [(f"{i}".encode(), "k") for i in range(5, 8)])  # pushed as they come
        later = collect(sub, 3)
    events = first + later
    assert [r.data for e in events for r in e.records] == [f"{i}".encode() for i in range(8)]
    continuation = events[-1].continuation_sequence_number
    assert continuation is not None and continuation > events[-1].records[-1].sequence_number
    client.put_record("s", b"8", "k")
    with client.subscribe_to_shard(arn, SHARD, "AT_SEQUENCE_NUMBER", continuation) as again:
        assert [r.data for e in collect(again, 1) for r in e.records] == [b"8"]


def test_shared_read_limits_do_not_apply(embedded_client: StreamsClient) -> None:
    client = StreamsClient(embedded_client.backend, StreamLimits(shard_read_tps=1))
    client.create_stream("s", 1)
    client.put_record("s", b"x", "k")
    iterator = client.get_shard_iterator("s", SHARD, "TRIM_HORIZON")
    client.get_records(iterator)
    with pytest.raises(ThroughputExceededError):
        client.get_records(iterator)
    arn = client.register_stream_consumer("s", "c").arn
    with client.subscribe_to_shard(arn, SHARD, "TRIM_HORIZON") as sub:
        assert [r.data for e in collect(sub, 1) for r in e.records] == [b"x"]


def test_one_subscription_per_consumer_and_shard(embedded_client: StreamsClient) -> None:
    now = [time.time_ns() // 1_000_000]
    client = StreamsClient(embedded_client.backend, clock=lambda: now[0])
    client.create_stream("s", 1)
    arn = client.register_stream_consumer("s", "c").arn
    other = client.register_stream_consumer("s", "d").arn
    first = client.subscribe_to_shard(arn, SHARD, "LATEST")
    with pytest.raises(ConflictError) as busy:
        client.subscribe_to_shard(arn, SHARD, "LATEST")
    assert busy.value.code == "ResourceInUse"
    client.subscribe_to_shard(other, SHARD, "LATEST").close()  # other consumers are independent
    now[0] += 5_001
    second = client.subscribe_to_shard(arn, SHARD, "LATEST")  # takes over
    assert not first.active and second.active
    second.close()


def test_subscription_ends_after_its_lifetime(embedded_client: StreamsClient) -> None:
    client = StreamsClient(embedded_client.backend, StreamLimits(subscription_ttl_ms=300))
    client.create_stream("s", 1)
    arn = client.register_stream_consumer("s", "c").arn
    sub = client.subscribe_to_shard(arn, SHARD, "TRIM_HORIZON")
    events = list(sub)  # ends by itself after 0.3 s
    assert sub.done and all(not e.records for e in events)
    sub.close()


def test_closed_shard_ends_with_children(embedded_client: StreamsClient) -> None:
    client = embedded_client
    client.create_stream("s", 1)
    client.put_records("s", [(b"a", "k"), (b"b", "k")])
    client.split_shard("s", SHARD, str(2**127))
    arn = client.register_stream_consumer("s", "c").arn
    with client.subscribe_to_shard(arn, SHARD, "TRIM_HORIZON") as sub:
        events = list(sub)
    assert [r.data for e in events for r in e.records] == [b"a", b"b"]
    assert events[-1].continuation_sequence_number is None
    assert len(events[-1].child_shards) == 2


def test_consumer_reads_through_subscriptions(embedded_client: StreamsClient, store) -> None:  # type: ignore[no-untyped-def]
    from podium.ingest.streams.consumer import Consumer

    client = embedded_client
    client.create_stream("s", 2)
    client.put_records("s", [(f"{i}".encode(), f"k{i % 7}") for i in range(40)])
    client.split_shard("s", SHARD, str(2**126))  # parent must be finished before its children
    client.put_records("s", [(f"{i}".encode(), f"k{i % 7}") for i in range(40, 60)])

    def drain(consumer: Consumer, want: int) -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + 15
        while len(got) < want and time.monotonic() < deadline:
            batch = consumer.poll()
            if batch is None:
                time.sleep(0.02)
                continue
            got.extend(r.data for r in batch.records)
            consumer.checkpoint()
        return got

    first = Consumer(client, store, "efo-app", "s", enhanced_fan_out=True, lease_ms=60_000)
    got = drain(first, 60)
    assert sorted(got, key=int) == [f"{i}".encode() for i in range(60)]
    assert [c.name for c in client.list_stream_consumers("s")] == ["efo-app"]
    first.close()
    client.put_records("s", [(b"60", "k1"), (b"61", "k2")])
    again = Consumer(client, store, "efo-app", "s", enhanced_fan_out=True, lease_ms=60_000)
    assert sorted(drain(again, 2)) == [b"60", b"61"]  # resumes after the checkpoints
    again.close()
