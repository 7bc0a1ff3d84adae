"""Ingestion from a stream consumer: once per checkpoint, bad records quarantined."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.features import FeatureStore
from podium.features.streaming import StreamIngestor
from podium.ingest.streams import StreamsClient
from podium.ingest.streams.consumer import Consumer
from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions
from podium.store import Store


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[StreamsClient]:
    client = StreamsClient(EmbeddedLogBackend(tmp_path / "streams", EmbeddedOptions(fsync="never")))
    client.create_stream("clicks", shard_count=2)
    yield client
    client.close()


@pytest.fixture
def clicks(fs: FeatureStore) -> FeatureStore:
    fs.create_group("clicks", record_identifiers="user", event_time="ts",
                    features={"user": "string", "ts": "timestamp", "n": "int64"})
    return fs


def _put(streams: StreamsClient, payloads: list[bytes]) -> None:
    streams.put_records("clicks", [(p, f"key-{i % 7}") for i, p in enumerate(payloads)])


def _good(i: int) -> bytes:
    return json.dumps({"user": f"u{i}", "ts": f"2024-05-01T00:00:{i % 60:02d}Z", "n": i}).encode()


def _consumer(streams: StreamsClient, store: Store, worker: str) -> Consumer:
    return Consumer(streams, store, "loader", "clicks", worker_id=worker, batch_limit=10,
                    poll_interval_s=0.01, idle_timeout_s=0.1)


def _offline_rows(fs: FeatureStore) -> list[int]:
    return [r["n"] for r in fs.query("SELECT n FROM clicks ORDER BY n").to_pylist()]


def test_good_records_land_and_bad_ones_are_quarantined_with_a_reason(
    clicks: FeatureStore, streams: StreamsClient, store: Store
) -> None:
    bad = [b"not json", b"[1, 2]", json.dumps({"user": "x", "ts": "2024-05-01T00:00:00Z", "n": 1.5}).encode(),
           json.dumps({"user": "y", "ts": "2024-05-01T00:00:00Z", "extra": 1}).encode(),
           json.dumps({"ts": "2024-05-01T00:00:00Z", "n": 1}).encode()]
    _put(streams, [_good(i) for i in range(20)] + bad)
    result = clicks.ingest_stream("clicks", _consumer(streams, store, "w1"))
    assert (result.records, result.rows, result.quarantined, result.skipped) == (25, 20, 5, 0)
    assert result.reasons == {"decode": 2, "invalid": 3}
    assert _offline_rows(clicks) == list(range(20))
    assert clicks.get_record("clicks", "u3")["n"] == 3

    quarantined = [json.loads(line) for f in result.quarantine_files for line in Path(f).read_text().splitlines()]
    assert sorted(q["data"] for q in quarantined) == sorted(b.decode() for b in bad)
    reasons = {q["data"]: q["reason"] for q in quarantined}
    assert reasons["not json"].startswith("decode:")
    assert "a record must be a JSON object" in reasons["[1, 2]"]
    assert "column 'n' row 0: value 1.5" in reasons[bad[2].decode()]
    assert "unknown column(s) extra" in reasons[bad[3].decode()]
    assert "column 'user' is required" in reasons[bad[4].decode()]
    assert all(q["sequence_number"] and q["shard"].startswith("shardId-") for q in quarantined)
    # Counted in the lineage too, one ingestion per batch.
    stream_writes = clicks.lineage.ingestions("clicks", kind="stream")
    assert sum(i.details["quarantined"] for i in stream_writes) == 5
    assert sum(i.rows for i in stream_writes) == 20
    # The model lineage names the stream itself, not one node per consumer application and shard.
    from podium.models.lineage import Lineage

    streams_seen = [e.name for e in Lineage(store).find("stream")]
    assert streams_seen == ["clicks"]


def test_records_delivered_again_after_a_lost_checkpoint_are_ingested_once(
    clicks: FeatureStore, streams: StreamsClient, store: Store
) -> None:
    _put(streams, [_good(i) for i in range(30)] + [b"bad"])
    first = _consumer(streams, store, "w1")
    ingestor = StreamIngestor(clicks, "clicks", first)
    # Written but never checkpointed: what a crash between the two leaves.
    delivered = 0
    for _ in range(3):
        batch = first.poll()
        assert batch is not None
        ingestor.process(batch, checkpoint=False)
        delivered += len(batch.records)
    first.close()  # leases released without a checkpoint: everything is delivered again
    written_before = len(_offline_rows(clicks))
    assert 0 < written_before < 30

    second = _consumer(streams, store, "w2")
    result = clicks.ingest_stream("clicks", second)
    assert result.skipped == delivered  # every redelivered record is recognised
    assert _offline_rows(clicks) == list(range(30))  # each record once
    # The bad record was quarantined (and counted) once, whichever run saw it first.
    writes = clicks.lineage.ingestions("clicks", kind="stream")
    assert sum(i.details["quarantined"] for i in writes) == 1
    # Everything is checkpointed now: a third worker finds nothing to do.
    third = clicks.ingest_stream("clicks", _consumer(streams, store, "w3"))
    assert (third.records, third.rows) == (0, 0)


def test_a_write_that_failed_is_undone_and_done_again(
    clicks: FeatureStore, streams: StreamsClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(streams, [_good(i) for i in range(12)])
    consumer = _consumer(streams, store, "w1")
    batch = consumer.poll()
    assert batch is not None and batch.records

    def down(*_: object, **__: object) -> int:
        raise ConnectionError("online store down")

    monkeypatch.setattr(clicks.online, "put_latest", down)
    with pytest.raises(ConnectionError):
        StreamIngestor(clicks, "clicks", consumer).process(batch)
    monkeypatch.undo()
    assert len(_offline_rows(clicks)) == len(batch.records)  # offline written, then it failed
    consumer.close()

    result = clicks.ingest_stream("clicks", _consumer(streams, store, "w2"))
    assert result.rows == 12
    assert _offline_rows(clicks) == list(range(12))
    statuses = [i.status for i in clicks.lineage.ingestions("clicks")]
    assert statuses.count("abandoned") == 1 and "failed" not in statuses
