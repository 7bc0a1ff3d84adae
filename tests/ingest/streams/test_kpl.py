"""KPL aggregated records: decoding the documented wire format, and unpacking in consumers."""

from __future__ import annotations

from hashlib import md5

import pytest

from podium.ingest.streams import StreamsClient
from podium.ingest.streams.consumer import Consumer
from podium.ingest.streams.kpl import (
    MAGIC,
    KplFormatError,
    UserRecord,
    aggregate,
    deaggregate,
    decode_aggregated,
)
from podium.ingest.streams.model import Record
from podium.store import Store

# An AggregatedRecord written out by hand from the protobuf wire format:
# partition keys ["alpha", "beta"], explicit hash keys ["42"], and three records, the
# second with an explicit hash key and a tag (t=v).
TABLES = b"\x0a\x05alpha" + b"\x0a\x04beta" + b"\x12\x0242"
REC1 = b"\x1a\x07" + b"\x08\x00" + b"\x1a\x03one"
REC2 = b"\x1a\x11" + b"\x08\x01" + b"\x10\x00" + b"\x1a\x03two" + b"\x22\x06" + b"\x0a\x01t\x12\x01v"
REC3 = b"\x1a\x09" + b"\x08\x00" + b"\x1a\x05three"
BODY = TABLES + REC1 + REC2 + REC3
AGGREGATED = MAGIC + BODY + md5(BODY).digest()
EXPECTED = [("alpha", None, b"one"), ("beta", "42", b"two"), ("alpha", None, b"three")]


def test_decodes_the_documented_format() -> None:
    assert decode_aggregated(AGGREGATED) == EXPECTED


def test_aggregate_writes_the_same_bytes() -> None:
    body = TABLES + REC1 + b"\x1a\x09\x08\x01\x10\x00\x1a\x03two" + REC3  # REC2 without its tag
    data, key, route = aggregate([(b"one", "alpha"), (b"two", "beta", "42"), (b"three", "alpha")])
    assert data == MAGIC + body + md5(body).digest()
    assert key == "alpha" and route == str(int.from_bytes(md5(b"alpha").digest(), "big"))


@pytest.mark.parametrize(
    "bad",
    [
        MAGIC + BODY + b"\x00" * 16,  # wrong checksum
        MAGIC + b"\x1a\x7f\x08" + md5(b"\x1a\x7f\x08").digest(),  # field longer than the message
        MAGIC + b"\x1a\x02\x08\x05" + md5(b"\x1a\x02\x08\x05").digest(),  # key index 5, empty table
    ],
)
def test_invalid_aggregates_pass_through_whole(bad: bytes) -> None:
    with pytest.raises(KplFormatError):
        decode_aggregated(bad)
    record = Record("1".zfill(40), 5, bad, "k")
    assert deaggregate([record]) == ([record], 1, 0)


def test_plain_records_pass_through_and_sub_records_share_the_sequence() -> None:
    plain = Record("1".zfill(40), 5, b"plain", "k")
    packed = Record("2".zfill(40), 6, AGGREGATED, "alpha")
    out, invalid, outside = deaggregate([plain, packed])
    assert invalid == 0 and outside == 0 and out[0] is plain
    assert out[1:] == [
        UserRecord("2".zfill(40), 6, b"one", "alpha", 0, None),
        UserRecord("2".zfill(40), 6, b"two", "beta", 1, "42"),
        UserRecord("2".zfill(40), 6, b"three", "alpha", 2, None),
    ]
    # Only the sub-record whose hash key (explicit: 42) lies in the range stays.
    kept, _, outside = deaggregate([packed], hash_range=(0, 100))
    assert [r.data for r in kept] == [b"two"] and outside == 2


def test_consumer_unpacks_aggregates(embedded_client: StreamsClient, store: Store) -> None:
    from podium.ingest.streams.routing import hash_key

    embedded_client.create_stream("s", 2)
    upper = 2**127  # shard 1 holds the upper half of the hash key space
    keys = [k for k in (f"key-{i}" for i in range(40)) if hash_key(k) >= upper][:5]
    stray = next(k for k in (f"key-{i}" for i in range(40)) if hash_key(k) < upper)
    users = [(f"u{i}".encode(), k) for i, k in enumerate(keys)] + [(b"stray", stray)]
    data, key, route = aggregate(users)
    plain = embedded_client.put_record("s", b"plain", keys[0])
    packed = embedded_client.put_record("s", data, key, explicit_hash_key=route)
    assert packed.shard_id == plain.shard_id == "shardId-000000000001"
    consumer = Consumer(embedded_client, store, "app", "s")
    got: list[Record] = []
    for _ in range(4):
        batch = consumer.poll()
        if batch is not None:
            got.extend(batch.records)
            assert batch.last_sequence_number == packed.sequence_number
            consumer.checkpoint()
    assert got[0] == Record(plain.sequence_number, got[0].approximate_arrival_timestamp, b"plain", keys[0])
    assert [r.data for r in got[1:]] == [f"u{i}".encode() for i in range(5)]
    assert all(isinstance(r, UserRecord) and r.sequence_number == packed.sequence_number for r in got[1:])
    assert [r.sub_sequence_number for r in got[1:]] == list(range(5))  # type: ignore[attr-defined]
    # The stray sub-record hashes into shard 0's range: left out, as the KCL does, and counted.
    assert consumer.stats.sub_records_outside_shard == 1
    raw = Consumer(embedded_client, store, "raw", "s", deaggregate=False)
    pages = [raw.poll() for _ in range(3)]
    assert [r.data for p in pages if p is not None for r in p.records] == [b"plain", data]
