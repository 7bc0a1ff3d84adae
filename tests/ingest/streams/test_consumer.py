"""Consumers sharing shards through leases: rebalancing, takeover, lineage, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from podium.ingest.streams import StreamsClient, open_streams
from podium.ingest.streams.consumer import Consumer
from podium.ingest.streams.leases import LeaseTable
from podium.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def fill(client: StreamsClient, n: int, keys: int = 16, first: int = 0) -> None:
    for start in range(first, first + n, 500):
        batch = [(f"{i}".encode(), f"key-{i % keys}") for i in range(start, min(first + n, start + 500))]
        assert client.put_records("s", batch).failed_record_count == 0


def drain(consumer: Consumer, seen: Counter[bytes], max_polls: int = 1000) -> None:
    for _ in range(max_polls):
        batch = consumer.poll()
        if batch is None:
            return
        seen.update(r.data for r in batch.records)
        consumer.checkpoint()


def test_two_workers_split_four_shards_and_take_over(embedded_client: StreamsClient, store: Store) -> None:
    embedded_client.create_stream("s", 4)
    fill(embedded_client, 400)
    clock = Clock()
    a = Consumer(embedded_client, store, "app", "s", worker_id="a", lease_ms=1000, batch_limit=10, clock=clock)
    b = Consumer(embedded_client, store, "app", "s", worker_id="b", lease_ms=1000, batch_limit=10, clock=clock)
    a.maintain()
    assert a.shards == [f"shardId-00000000000{i}" for i in range(4)]
    b.maintain()  # steals one at a time, toward two each
    b.maintain()
    assert len(b.shards) == 2 and b.stats.leases_stolen == 2
    a.maintain()  # a learns on renew that two leases are gone
    assert len(a.shards) == 2 and a.stats.leases_lost == 2
    assert set(a.shards).isdisjoint(b.shards)
    seen: Counter[bytes] = Counter()
    batch = a.poll()
    assert batch is not None
    seen.update(r.data for r in batch.records)
    a.checkpoint()
    # a dies; once its leases expire b takes them over from a's checkpoint.
    clock.now += 1001
    b.maintain()
    assert len(b.shards) == 4
    drain(b, seen)
    assert set(seen) == {f"{i}".encode() for i in range(400)}
    assert sum(seen.values()) == 400  # a checkpointed what it processed: no duplicates


def test_duplicates_only_after_the_last_checkpoint(embedded_client: StreamsClient, store: Store) -> None:
    embedded_client.create_stream("s", 1)
    fill(embedded_client, 50)
    clock = Clock()
    a = Consumer(embedded_client, store, "app", "s", worker_id="a", lease_ms=1000, batch_limit=10, clock=clock)
    seen: Counter[bytes] = Counter()
    for n in range(3):
        batch = a.poll()
        assert batch is not None
        seen.update(r.data for r in batch.records)
        if n < 2:
            a.checkpoint()  # the third batch is processed but not checkpointed
    clock.now += 1001
    b = Consumer(embedded_client, store, "app", "s", worker_id="b", lease_ms=1000, batch_limit=10, clock=clock)
    drain(b, seen)
    assert len(seen) == 50
    assert [k for k, v in seen.items() if v > 1] == [f"{i}".encode() for i in range(20, 30)]


def test_children_wait_for_parents(embedded_client: StreamsClient, store: Store) -> None:
    embedded_client.create_stream("s", 1)
    counter: dict[str, int] = defaultdict(int)

    def put_round() -> None:
        batch = []
        for i in range(40):
            key = f"k{i % 9}"
            batch.append((f"{key}:{counter[key]}".encode(), key))
            counter[key] += 1
        embedded_client.put_records("s", batch)

    put_round()
    embedded_client.split_shard("s", "shardId-000000000000", str(2**127))
    put_round()
    embedded_client.merge_shards("s", "shardId-000000000001", "shardId-000000000002")
    put_round()
    consumer = Consumer(embedded_client, store, "app", "s", worker_id="w", batch_limit=7)
    order: dict[str, list[int]] = defaultdict(list)
    for _ in range(200):
        batch = consumer.poll()
        if batch is None:
            if not consumer.shards:
                consumer.maintain()
            if consumer.poll() is None and not consumer.shards:
                break
            continue
        for record in batch.records:
            key, n = record.data.decode().split(":")
            order[key].append(int(n))
        consumer.checkpoint()
    assert dict(order) == {k: list(range(v)) for k, v in counter.items()}
    leases = {lease.shard_id: lease.checkpoint for lease in LeaseTable(store, "app", "s").all()}
    assert leases["shardId-000000000000"] == "SHARD_END"
    assert leases["shardId-000000000001"] == "SHARD_END"


def test_iterate_until_idle(embedded_client: StreamsClient, store: Store) -> None:
    embedded_client.create_stream("s", 2)
    fill(embedded_client, 30)
    consumer = Consumer(embedded_client, store, "app", "s", batch_limit=8, poll_interval_s=0.01, idle_timeout_s=0.05)
    got = []
    for batch in consumer:
        got.extend(batch.records)
        consumer.checkpoint()
    assert len(got) == 30
    consumer.close()
    assert all(lease.owner is None for lease in LeaseTable(store, "app", "s").all())


WORKER = textwrap.dedent(
    """
    import sys, time
    from podium.store import open_store
    from podium.ingest.streams import open_streams
    from podium.ingest.streams.consumer import Consumer
    url, home, db, out_path, name = sys.argv[1:6]
    streams = open_streams(url, home=home)
    store = open_store(db)
    consumer = Consumer(streams, store, "app", "s", worker_id=name, lease_ms=900,
                        batch_limit=20, poll_interval_s=0.02)
    with open(out_path, "a") as out:
        for batch in consumer:
            for r in batch.records:
                out.write(r.data.decode() + "\\n")
            out.flush()
            time.sleep(0.03)
            consumer.checkpoint()
    """
)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_for(condition, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_kill_9_of_a_consumer_process_loses_nothing(
    tmp_path: Path, store: Store, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "redis":
        url = f"redis://127.0.0.1:6379/0?prefix={request.getfixturevalue('redis_prefix')}"
    else:
        url = "embedded"
    home = tmp_path / "home"
    client = open_streams(url, home=home)
    client.create_stream("s", 4)
    fill(client, 2000)
    db = str(store.engine.url)
    out_a, out_b = tmp_path / "a.txt", tmp_path / "b.txt"
    a = subprocess.Popen([sys.executable, "-c", WORKER, url, str(home), db, str(out_a), "a"])
    b = None
    try:
        assert wait_for(lambda: len(_lines(out_a)) > 0)
        b = subprocess.Popen([sys.executable, "-c", WORKER, url, str(home), db, str(out_b), "b"])
        total = 2000
        deadline = time.monotonic() + 30
        while not _lines(out_b) and time.monotonic() < deadline:
            fill(client, 40, first=total)  # keep both busy however slowly b starts
            total += 40
            time.sleep(0.1)
        assert _lines(out_b), "b never got a share of the shards"
        time.sleep(0.2)
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        fill(client, 200, first=total)  # records written after a died
        total += 200
        expected = {str(i) for i in range(total)}
        assert wait_for(lambda: set(_lines(out_a)) | set(_lines(out_b)) >= expected)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    processed = _lines(out_a) + _lines(out_b)
    duplicates = len(processed) - len(set(processed))
    print(f"processed {len(processed)}, duplicates {duplicates}")
    assert set(processed) == expected
    assert duplicates <= 4 * 20 * 2  # at most the uncheckpointed batches of a's shards


def test_iterator_age_event_once_per_crossing(tmp_path: Path, store: Store) -> None:
    import json

    from sqlalchemy import select

    from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions
    from podium.store.tables.triggers import triggers_outbox

    # The reader's clock runs two minutes ahead of the writer's: every unread record is
    # about 120 s old when it is read.
    def ahead() -> int:
        return time.time_ns() // 1_000_000 + 120_000

    client = StreamsClient(EmbeddedLogBackend(tmp_path / "s", EmbeddedOptions(fsync="never")), clock=ahead)
    client.create_stream("s", 1)
    fill(client, 30)
    consumer = Consumer(client, store, "billing", "s", batch_limit=10, iterator_age_threshold_ms=60_000)

    def events() -> list[dict[str, object]]:
        with store.connect() as conn:
            rows = conn.execute(
                select(triggers_outbox.c.detail).where(triggers_outbox.c.source == "podium.streams")
            ).all()
        return [json.loads(row.detail) for row in rows]

    ages = [consumer.poll().millis_behind_latest for _ in range(3)]  # type: ignore[union-attr]
    assert ages[0] >= 60_000 and ages[1] >= 60_000 and ages[2] == 0  # lagging, lagging, caught up
    first = events()
    assert len(first) == 1  # one event for the crossing, not one per lagging read
    assert first[0]["streamName"] == "s" and first[0]["consumerName"] == "billing"
    assert first[0]["shardId"] == "shardId-000000000000"
    assert first[0]["thresholdMilliseconds"] == 60_000
    assert int(first[0]["iteratorAgeMilliseconds"]) >= 60_000  # type: ignore[call-overload]
    fill(client, 30, first=30)  # falls behind again: a second crossing
    assert consumer.poll().millis_behind_latest >= 60_000  # type: ignore[union-attr]
    assert consumer.poll() is not None
    assert len(events()) == 2 and consumer.stats.lag_events == 2
    quiet = Consumer(client, store, "other", "s", batch_limit=10, iterator_age_threshold_ms=None)
    assert quiet.poll() is not None and len(events()) == 2
    client.close()
