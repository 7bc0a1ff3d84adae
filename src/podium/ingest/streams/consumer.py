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

from podium.errors import ConflictError, ValidationError
from podium.ingest.streams import kpl
from podium.ingest.streams.client import StreamsClient
from podium.ingest.streams.fanout import TAKEOVER_MS, ShardSubscription
from podium.ingest.streams.leases import LATEST, SHARD_END, TRIM_HORIZON, Lease, LeaseTable
from podium.ingest.streams.model import GetRecordsResult, Record
from podium.ingest.streams.throttling import ThroughputExceededError
from podium.store import Store


@dataclass(frozen=True)
class ConsumerBatch:
    """Records from one shard, in order. `shard_ended` means the shard is closed and this
    batch holds its last records; checkpointing it marks the shard SHARD_END.

    With de-aggregation on, KPL aggregates appear as their user records (`kpl.UserRecord`,
    which has `Record`'s fields first); `last_sequence_number` is the sequence number of the
    last stream record read, the position a checkpoint of this batch records."""

    shard_id: str
    records: list[Record]
    millis_behind_latest: int
    shard_ended: bool = False
    last_sequence_number: str | None = None


@dataclass
class ConsumerStats:
    records: int = 0
    batches: int = 0
    leases_taken: int = 0
    leases_stolen: int = 0
    leases_lost: int = 0
    checkpoints: int = 0
    lag_events: int = 0
    throttled: int = 0
    invalid_aggregates: int = 0  # records with the KPL magic bytes that failed to decode
    sub_records_outside_shard: int = 0  # KPL sub-records left out: another shard's hash range


@dataclass
class _Held:
    lease: Lease
    iterator: str | None = None
    yielded: str | None = None  # sequence number of the last record handed out
    ended: bool = False  # the shard's end has been handed out
    saved: str | None = None  # what the lease table holds as checkpoint
    lagging: bool = False  # iterator age is at or above the threshold (event already sent)
    resume_at_ms: int = 0  # the shard's read limit was hit: skip it until then
    subscription: ShardSubscription | None = None  # enhanced fan-out only
    continuation: str | None = None  # enhanced fan-out: where the next subscription starts


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
    # Publish podium.streams "Iterator Age High" once each time a shard's iterator age
    # (MillisBehindLatest) goes from below this to at or above it; None turns it off.
    iterator_age_threshold_ms: int | None = 60_000
    throttle_backoff_ms: int = 200  # wait after ProvisionedThroughputExceeded on a shard
    # Unpack KPL-aggregated records into their user records (`kpl.UserRecord`), as the KCL
    # does; a batch always holds whole aggregates, so checkpoints stay per stream record.
    deaggregate: bool = True
    # Read through an enhanced fan-out subscription per shard (the application name is
    # registered as the stream consumer) instead of polling GetRecords.
    enhanced_fan_out: bool = False
    clock: Callable[[], int] = _clock_ms
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    def __post_init__(self) -> None:
        if self.initial_position not in (TRIM_HORIZON, LATEST):
            raise ValidationError(
                f"initial_position must be TRIM_HORIZON or LATEST, got '{self.initial_position}'",
                code="InvalidArgument",
            )
        if self.iterator_age_threshold_ms is not None and self.iterator_age_threshold_ms < 0:
            raise ValidationError(
                f"iterator_age_threshold_ms must be >= 0 or None, got {self.iterator_age_threshold_ms}",
                code="InvalidArgument",
            )
        self.streams.describe_stream(self.stream)  # fail early on a missing stream
        self._consumer_arn = ""
        if self.enhanced_fan_out:
            try:
                registered = self.streams.register_stream_consumer(self.stream, self.application)
            except ConflictError as exc:
                if exc.code != "ResourceInUse":
                    raise
                registered = self.streams.describe_stream_consumer(self.stream, self.application)
            self._consumer_arn = registered.arn
        self._table = LeaseTable(self.store, self.application, self.stream)
        self._held: dict[str, _Held] = {}
        self._ranges: dict[str, tuple[int, int]] = {}
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
        shards = self.streams.list_shards(self.stream)
        self._ranges = {s.shard_id: (s.starting_hash_key, s.ending_hash_key) for s in shards}
        self._table.sync(shards, self.initial_position)
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
        self._drop(shard_id)
        self.stats.leases_lost += 1

    def _drop(self, shard_id: str) -> None:
        held = self._held.pop(shard_id, None)
        if held is not None and held.subscription is not None:
            held.subscription.close()

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
            if held.resume_at_ms and self.clock() < held.resume_at_ms:
                continue
            page = self._pushed(shard_id, held) if self.enhanced_fan_out else self._fetch(shard_id, held)
            if page is None:
                continue
            ended = page.next_shard_iterator is None
            self._watch_age(shard_id, held, page.millis_behind_latest)
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
                records: list[Record] = page.records
                if self.deaggregate:
                    unpacked = kpl.deaggregate(records, self._ranges.get(shard_id))
                    records = unpacked.records  # type: ignore[assignment]
                    self.stats.invalid_aggregates += unpacked.invalid
                    self.stats.sub_records_outside_shard += unpacked.outside
                self.stats.records += len(records)
                self.stats.batches += 1
                last = page.records[-1].sequence_number if page.records else held.yielded
                return ConsumerBatch(shard_id, records, page.millis_behind_latest, ended, last)
        return None

    def _fetch(self, shard_id: str, held: _Held) -> GetRecordsResult | None:
        """One GetRecords call on the shard; None when it is throttled."""
        if held.iterator is None:
            held.iterator = self._iterator(shard_id, held)
        try:
            try:
                page = self.streams.get_records(held.iterator, limit=self.batch_limit)
            except ValidationError as exc:
                if exc.code != "ExpiredIterator":
                    raise
                held.iterator = self._iterator(shard_id, held)
                page = self.streams.get_records(held.iterator, limit=self.batch_limit)
        except ThroughputExceededError:
            # The shard's shared read limit is used up: back off, like the KCL does.
            held.resume_at_ms = self.clock() + self.throttle_backoff_ms
            self.stats.throttled += 1
            return None
        held.resume_at_ms = 0
        held.iterator = page.next_shard_iterator
        return page

    def _pushed(self, shard_id: str, held: _Held) -> GetRecordsResult | None:
        """The next event of the shard's enhanced fan-out subscription, as a page; None when
        none is waiting. Subscribes (again) when there is no live subscription."""
        sub = held.subscription
        if sub is None or sub.done:
            if sub is not None:
                sub.close()
            held.subscription = None
            if held.continuation is not None:
                start: tuple[str, str | None] = ("AT_SEQUENCE_NUMBER", held.continuation)
            else:
                position = held.yielded or held.lease.checkpoint
                start = (position, None) if position in (TRIM_HORIZON, LATEST) else ("AFTER_SEQUENCE_NUMBER", position)
            try:
                sub = self.streams.subscribe_to_shard(
                    self._consumer_arn, shard_id, start[0], start[1], batch_limit=self.batch_limit
                )
            except ConflictError:  # a subscription of this consumer is still live: wait
                held.resume_at_ms = self.clock() + TAKEOVER_MS
                return None
            held.subscription = sub
        event = sub.next_event(timeout=0)
        if event is None:
            return None
        if event.continuation_sequence_number is not None:
            held.continuation = event.continuation_sequence_number
        marker = None if event.continuation_sequence_number is None else "subscription"
        return GetRecordsResult(event.records, marker, event.millis_behind_latest, event.child_shards)

    def _watch_age(self, shard_id: str, held: _Held, age_ms: int) -> None:
        """Publish the lag event when the shard's iterator age crosses the threshold upward;
        re-arm once the age is back below it."""
        threshold = self.iterator_age_threshold_ms
        if threshold is None:
            return
        if age_ms < threshold:
            held.lagging = False
        elif not held.lagging:
            from podium.triggers.podium_events import record_iterator_age_high

            record_iterator_age_high(
                self.store,
                stream=self.stream,
                consumer=self.application,
                shard_id=shard_id,
                age_milliseconds=age_ms,
                threshold_milliseconds=threshold,
            )
            held.lagging = True
            self.stats.lag_events += 1

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
            self._drop(shard_id)
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
            if held.subscription is not None:
                held.subscription.close()
            self._table.release(held.lease, self.worker_id)
        self._held.clear()
