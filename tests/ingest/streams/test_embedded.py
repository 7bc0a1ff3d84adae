"""The embedded log on disk: recovery after crashes, several writers, segments, retention."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from podium.errors import ValidationError
from podium.ingest.streams import StreamsClient
from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions
from podium.ingest.streams.sequence import format_sequence

SHARD = "shardId-000000000000"


def make(root: Path, **options) -> StreamsClient:  # type: ignore[no-untyped-def]
    return StreamsClient(EmbeddedLogBackend(root, EmbeddedOptions(**options)))


def read_all(client: StreamsClient, stream: str = "s", shard: str = SHARD) -> list:  # type: ignore[type-arg]
    iterator = client.get_shard_iterator(stream, shard, "TRIM_HORIZON")
    out = []
    while True:
        page = client.get_records(iterator, limit=1000)
        out.extend(page.records)
        if not page.records or page.next_shard_iterator is None:
            return out
        iterator = page.next_shard_iterator


def test_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    client = make(tmp_path)
    client.create_stream("s", 1)
    client.put_records("s", [(b"a", "k"), (b"b", "k")])
    client.close()
    log = next((tmp_path / "s" / SHARD).glob("*.log"))
    good = log.stat().st_size
    with open(log, "ab") as fh:  # half a record, as a kill during write() leaves it
        fh.write(b"\x40\x00\x00\x00\x00\x00")
    reopened = make(tmp_path)
    assert [r.data for r in read_all(reopened)] == [b"a", b"b"]  # readers ignore the tail
    entry = reopened.put_record("s", b"c", "k")
    assert log.stat().st_size > good
    assert entry.sequence_number == format_sequence(3)
    assert [r.data for r in read_all(make(tmp_path))] == [b"a", b"b", b"c"]


PRODUCER = textwrap.dedent(
    """
    import sys
    from podium.ingest.streams import StreamsClient
    from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions
    client = StreamsClient(EmbeddedLogBackend(sys.argv[1], EmbeddedOptions(fsync=sys.argv[2], segment_bytes=50_000)))
    tag = sys.argv[3]
    acks = open(sys.argv[4], "a")
    n = 0
    while True:
        batch = [(f"{tag}-{n + i}".encode() * 3, f"key-{i % 7}") for i in range(50)]
        result = client.put_records("s", batch)
        assert result.failed_record_count == 0
        n += 50
        acks.write(f"{n}\\n")
        acks.flush()
    """
)


def start_producer(root: Path, fsync: str, tag: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", PRODUCER, str(root), fsync, tag, _acks(root, tag)])
    acks, deadline = Path(_acks(root, tag)), time.monotonic() + 30  # generous: start-up is slow on a loaded machine
    while time.monotonic() < deadline and not (acks.exists() and acks.stat().st_size):
        time.sleep(0.02)  # wait for the first acknowledged batch, however slow start-up is
    return proc


def _acks(root: Path, tag: str) -> str:
    return str(root / f"acks-{tag}.txt")


def acknowledged_after_kill(proc: subprocess.Popen[str], root: Path, tag: str, after_s: float) -> int:
    """kill -9 the producer `after_s` seconds from now; the count it was told is written."""
    time.sleep(after_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    lines = Path(_acks(root, tag)).read_text().split()
    return int(lines[-1]) if lines else 0


@pytest.mark.parametrize("fsync", ["never", "always"])
def test_kill_9_loses_no_acknowledged_record(tmp_path: Path, fsync: str) -> None:
    make(tmp_path).create_stream("s", 2)
    proc = start_producer(tmp_path, fsync, "p")
    acked = acknowledged_after_kill(proc, tmp_path, "p", random.uniform(0.1, 0.6))
    assert acked > 0
    client = make(tmp_path)
    values = {r.data for shard in client.list_shards("s") for r in read_all(client, "s", shard.shard_id)}
    expected = {f"p-{i}".encode() * 3 for i in range(acked)}
    assert expected <= values
    assert 0 <= len(values) - acked <= 50  # at most the one call in flight, never acknowledged
    # The log is writable again and the next records follow the survivors.
    client.put_records("s", [(b"after", "key-0")])
    assert read_all(client, "s", client.describe_stream("s").open_shards()[0].shard_id)


def test_two_processes_write_one_stream(tmp_path: Path) -> None:
    make(tmp_path).create_stream("s", 1)
    procs = [start_producer(tmp_path, "never", tag) for tag in ("x", "y")]
    time.sleep(0.5)
    acked = {}
    for tag, proc in zip(("x", "y"), procs, strict=True):
        acked[tag] = acknowledged_after_kill(proc, tmp_path, tag, 0)
    records = read_all(make(tmp_path))
    seqs = [int(r.sequence_number) for r in records]
    assert seqs == list(range(1, len(seqs) + 1))  # dense and ordered despite two writers
    for tag, count in acked.items():
        assert count > 0
        mine = [r for r in records if r.data.startswith(f"{tag}-".encode())]
        assert count <= len(mine) <= count + 50


def test_segments_roll_and_expire_whole(tmp_path: Path) -> None:
    client = make(tmp_path, segment_bytes=4096, index_every_bytes=512)
    client.create_stream("s", 1)
    for n in range(40):
        client.put_records("s", [(f"{n}-{i}".encode() * 10, "k") for i in range(10)])
    logs = sorted((tmp_path / "s" / SHARD).glob("*.log"))
    assert len(logs) > 5
    records = read_all(client)
    assert len(records) == 400
    # Seeking by sequence number lands on the right record in any segment.
    for target in (1, 57, 199, 333, 400):
        iterator = client.get_shard_iterator("s", SHARD, "AT_SEQUENCE_NUMBER", starting_sequence_number=format_sequence(target))
        assert client.get_records(iterator, limit=1).records[0] == records[target - 1]
    now = time.time_ns() // 1_000_000
    client.backend.enforce_retention("s", now + 25 * 3_600_000)
    left = sorted((tmp_path / "s" / SHARD).glob("*.log"))
    assert left == logs[-1:]  # only the active segment stays
    later = StreamsClient(client.backend, clock=lambda: now + 25 * 3_600_000)
    assert read_all(later) == []
    client.put_record("s", b"new", "k")
    survivors = read_all(client)  # the active segment and the new record
    first_kept = int(left[0].stem)
    assert int(survivors[0].sequence_number) == first_kept
    assert survivors[-1].data == b"new" and len(survivors) == 400 - first_kept + 2


def test_closed_shard_expires_after_retention(tmp_path: Path) -> None:
    client = make(tmp_path)
    client.create_stream("s", 1)
    client.put_record("s", b"x", "k")
    client.split_shard("s", SHARD, str(2**127))
    now = time.time_ns() // 1_000_000
    meta = client.backend.enforce_retention("s", now + 25 * 3_600_000)
    assert meta.shard(SHARD).expired
    assert SHARD not in [s.shard_id for s in make(tmp_path).list_shards("s")]
    assert not (tmp_path / "s" / SHARD).exists()


def test_reader_in_another_backend_sees_new_segments_and_reshards(tmp_path: Path) -> None:
    writer = make(tmp_path, segment_bytes=2048)
    writer.create_stream("s", 1)
    reader = make(tmp_path)
    assert read_all(reader) == []
    for n in range(20):
        writer.put_records("s", [(f"{n}".encode() * 50, "k")] * 5)
    assert len(read_all(reader)) == 100
    writer.split_shard("s", SHARD, str(2**127))
    iterator = reader.get_shard_iterator("s", SHARD, "LATEST")
    assert reader.get_records(iterator).next_shard_iterator is None


def test_fsync_policy_is_checked() -> None:
    with pytest.raises(ValidationError, match="fsync"):
        EmbeddedOptions(fsync="sometimes")


def test_interval_policy_syncs_a_quiet_stream(tmp_path: Path) -> None:
    backend = EmbeddedLogBackend(tmp_path, EmbeddedOptions(fsync="interval", fsync_interval_ms=50))
    client = StreamsClient(backend)
    client.create_stream("s", 1)
    client.put_record("s", b"first", "k")  # synced at once: nothing was synced before
    client.put_record("s", b"second", "k")  # within the interval: left dirty
    writer = backend._writers["s"].shards[SHARD]
    assert writer.dirty
    deadline = time.monotonic() + 5
    while writer.dirty and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not writer.dirty  # the background syncer caught up without another put
    client.close()
    assert backend._syncer is None
