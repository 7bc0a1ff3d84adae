"""Consumers that share a stream's shards (the Kinesis Client Library stand-in).

    consumer = Consumer(streams, store, "billing", "orders")
    for batch in consumer:
        handle(batch.records)
        consumer.checkpoint()

Workers of one application coordinate only through the lease table (`leases.py`): each
takes expired leases up to its fair share (shards / live workers), steals one lease at a
time from a worker holding more than its share, and renews what it holds every third of
the lease time. A worker that dies stops renewing; after `lease_ms` its shards are taken
over from their last checkpoint, so records after that checkpoint are delivered again
(at-least-once) and none are lost. A child shard is read only after every parent has been
checkpointed at SHARD_END, which keeps per-key order across resharding.
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from podium.errors import ValidationError
from podium.ingest.streams.client import StreamsClient
from podium.ingest.streams.leases import LATEST, SHARD_END, TRIM_HORIZON, Lease, LeaseTable
from podium.ingest.streams.model import Record
from podium.store import Store


@dataclass(frozen=True)
class ConsumerBatch:
    """Records from one shard, in order. `shard_ended` means the shard is closed and this
    batch holds its last records; checkpointing it marks the shard SHARD_END."""

    shard_id: str
    records: list[Record]
    millis_behind_latest: int
    shard_ended: bool = False


@dataclass
class ConsumerStats:
    records: int = 0
    batches: int = 0
    leases_taken: int = 0
    leases_stolen: int = 0
    leases_lost: int = 0
    checkpoints: int = 0


@dataclass
class _Held:
    lease: Lease
    iterator: str | None = None
    yielded: str | None = None  # sequence number of the last record handed out
    ended: bool = False  # the shard's end has been handed out
    saved: str | None = None  # what the lease table holds as checkpoint


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Consumer:
    """One worker of a consumer application; iterate it to get batches of records."""

    streams: StreamsClient
    store: Store
    application: str
    stream: str
    worker_id: str = field(default_factory=_default_worker_id)
    initial_position: str = TRIM_HORIZON
    lease_ms: int = 10_000
    batch_limit: int = 1000
    poll_interval_s: float = 0.2
    idle_timeout_s: float | None = None
    max_leases: int | None = None
    clock: Callable[[], int] = _clock_ms
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    def __post_init__(self) -> None:
        if self.initial_position not in (TRIM_HORIZON, LATEST):
            raise ValidationError(
                f"initial_position must be TRIM_HORIZON or LATEST, got '{self.initial_position}'",
                code="InvalidArgument",
            )
        self.streams.describe_stream(self.stream)  # fail early on a missing stream
        self._table = LeaseTable(self.store, self.application, self.stream)
        self._held: dict[str, _Held] = {}
        self._order: list[str] = []
        self._cursor = 0
        self._next_maintenance = 0
        self._stopped = False

    @property
    def shards(self) -> list[str]:
        """Shards this worker holds leases on."""
        return sorted(self._held)

    # -- leases ---------------------------------------------------------------------------

    def maintain(self) -> None:
        """Renew held leases, pick up new shards, and take or steal toward a fair share."""
        now = self.clock()
        for shard_id, held in list(self._held.items()):
            renewed = self._table.renew(held.lease, self.worker_id, now, self.lease_ms)
            if renewed is None:
                self._lose(shard_id)
            else:
                held.lease = renewed
        self._table.sync(self.streams.list_shards(self.stream), self.initial_position)
        leases = self._table.all()
        by_id = {lease.shard_id: lease for lease in leases}
        eligible = [
            lease
            for lease in leases
            if not lease.finished
            and all(by_id[p].finished for p in lease.parents if p in by_id)
        ]
        owners = {
            lease.owner
            for lease in eligible
            if not lease.is_expired(now) and lease.owner != self.worker_id
        }
        target = math.ceil(len(eligible) / (len(owners) + 1)) if eligible else 0
        if self.max_leases is not None:
            target = min(target, self.max_leases)
        for lease in eligible:
            if len(self._held) >= target:
                break
            if lease.shard_id not in self._held and lease.is_expired(now):
                self._take(lease, now)
        if len(self._held) < target:
            counts: dict[str, list[Lease]] = {}
            for lease in eligible:
                if not lease.is_expired(now) and lease.owner != self.worker_id:
                    counts.setdefault(lease.owner or "", []).append(lease)
            if counts:
                victim = max(counts.values(), key=len)
                if len(victim) > target and self._take(victim[-1], now):
                    self.stats.leases_stolen += 1
        self._order = sorted(self._held)
        self._next_maintenance = now + max(self.lease_ms // 3, 1)

    def _take(self, lease: Lease, now: int) -> bool:
        taken = self._table.take(lease, self.worker_id, now, self.lease_ms)
        if taken is None:
            return False
        self._held[lease.shard_id] = _Held(taken, saved=taken.checkpoint)
        self.stats.leases_taken += 1
        return True

    def _lose(self, shard_id: str) -> None:
        self._held.pop(shard_id, None)
        self.stats.leases_lost += 1

    # -- reading --------------------------------------------------------------------------

    def _iterator(self, shard_id: str, held: _Held) -> str:
        position = held.yielded or held.lease.checkpoint
        if position in (TRIM_HORIZON, LATEST):
            return self.streams.get_shard_iterator(self.stream, shard_id, position)
        return self.streams.get_shard_iterator(
            self.stream, shard_id, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=position
        )

    def poll(self) -> ConsumerBatch | None:
        """The next batch from any held shard, or None when none has new records."""
        if self.clock() >= self._next_maintenance:
            self.maintain()
        order = self._order
        for step in range(len(order)):
            shard_id = order[(self._cursor + step) % len(order)]
            held = self._held.get(shard_id)
            if held is None or held.ended:
                continue
            if held.iterator is None:
                held.iterator = self._iterator(shard_id, held)
            try:
                page = self.streams.get_records(held.iterator, limit=self.batch_limit)
            except ValidationError as exc:
                if exc.code != "ExpiredIterator":
                    raise
                held.iterator = self._iterator(shard_id, held)
                page = self.streams.get_records(held.iterator, limit=self.batch_limit)
            held.iterator = page.next_shard_iterator
            ended = page.next_shard_iterator is None
            if page.records:
                held.yielded = page.records[-1].sequence_number
            if ended:
                held.ended = True
                if not page.records and held.yielded == held.saved:
                    # Nothing left to process in this shard: finish it now.
                    self._save(shard_id, held, SHARD_END)
                    continue
            if page.records or ended:
                self._cursor = (self._cursor + step + 1) % max(len(order), 1)
                self.stats.records += len(page.records)
                self.stats.batches += 1
                return ConsumerBatch(shard_id, page.records, page.millis_behind_latest, ended)
        return None

    def checkpoint(self) -> None:
        """Record that every batch handed out so far has been processed."""
        for shard_id, held in list(self._held.items()):
            if held.ended:
                self._save(shard_id, held, SHARD_END)
            elif held.yielded is not None and held.yielded != held.saved:
                self._save(shard_id, held, held.yielded)

    def checkpoint_at(self, shard_id: str, sequence_number: str) -> bool:
        """Record progress of one shard up to `sequence_number` (a record handed out), or
        SHARD_END once the shard's end was handed out. False if the lease was lost."""
        held = self._held.get(shard_id)
        if held is None:
            return False
        if sequence_number == SHARD_END and not held.ended:
            raise ValidationError(
                f"shard '{shard_id}' has not been read to its end; it cannot be SHARD_END",
                code="InvalidArgument",
            )
        if sequence_number != held.saved:
            self._save(shard_id, held, sequence_number)
        return shard_id in self._held or sequence_number == SHARD_END

    def _save(self, shard_id: str, held: _Held, value: str) -> None:
        saved = self._table.checkpoint(held.lease, self.worker_id, value)
        if saved is None:
            self._lose(shard_id)
            return
        held.lease, held.saved = saved, value
        self.stats.checkpoints += 1
        if value == SHARD_END:
            # A finished shard needs no owner; its children become eligible at once.
            self._table.release(saved, self.worker_id)
            self._held.pop(shard_id, None)
            self._next_maintenance = 0

    def __iter__(self) -> Iterator[ConsumerBatch]:
        idle_since: float | None = None
        while not self._stopped:
            batch = self.poll()
            if batch is not None:
                idle_since = None
                yield batch
                continue
            now = time.monotonic()
            idle_since = idle_since if idle_since is not None else now
            if self.idle_timeout_s is not None and now - idle_since >= self.idle_timeout_s:
                return
            time.sleep(self.poll_interval_s)

    def stop(self) -> None:
        """End the iteration after the current batch."""
        self._stopped = True

    def close(self) -> None:
        """Give up held leases (without checkpointing) so other workers take over at once."""
        for held in self._held.values():
            self._table.release(held.lease, self.worker_id)
        self._held.clear()
