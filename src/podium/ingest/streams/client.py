"""The streams service: the Kinesis Data Streams operations over any `StreamBackend`.

Validation, partition-key routing, shard iterators, retention cut-offs and resharding
rules live here once; backends only store and read records.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from hashlib import md5
from typing import Any

from podium.errors import ConflictError, NotFoundError, PodiumError, ValidationError
from podium.ingest.streams import resharding
from podium.ingest.streams.base import StaleShardMapError, StreamBackend
from podium.ingest.streams.fanout import (
    ShardSubscription,
    check_takeover,
    consumer_arn,
    find_consumer,
    parse_consumer_arn,
)
from podium.ingest.streams.iterators import IteratorType, ShardPosition
from podium.ingest.streams.limits import StreamLimits
from podium.ingest.streams.model import (
    DEFAULT_RETENTION_HOURS,
    GetRecordsResult,
    PutRecordsEntry,
    PutRecordsResult,
    PutRecordsResultEntry,
    ShardMeta,
    StreamConsumer,
    StreamMeta,
)
from podium.ingest.streams.routing import Router, parse_explicit_hash_key
from podium.ingest.streams.sequence import parse_sequence
from podium.ingest.streams.throttling import (
    THROTTLED,
    ReadThrottle,
    ShardThrottle,
    ThroughputExceededError,
)


def _system_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _timestamp_ms(value: datetime | float | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(
                "AT_TIMESTAMP needs a timezone-aware datetime (or epoch seconds)",
                code="InvalidArgument",
            )
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


class StreamsClient:
    """Create, write, read and reshard streams; one instance may be shared by threads."""

    def __init__(
        self,
        backend: StreamBackend,
        limits: StreamLimits | None = None,
        clock: Callable[[], int] = _system_clock_ms,
        metrics: Any = None,
    ) -> None:
        self.backend = backend
        self.limits = limits or StreamLimits()
        self._clock = clock
        # A podium.metrics.MetricStore, fed with Kinesis's per-stream metric names
        # (IncomingRecords, IncomingBytes, GetRecords.IteratorAgeMilliseconds, ...).
        self.metrics = metrics
        throttled = self.limits.shard_records_per_s or self.limits.shard_bytes_per_s
        self._throttle = (
            ShardThrottle(self.limits.shard_records_per_s, self.limits.shard_bytes_per_s, clock)
            if throttled
            else None
        )
        reads_limited = self.limits.shard_read_tps or self.limits.shard_read_bytes_per_s
        self._read_throttle = (
            ReadThrottle(self.limits.shard_read_tps, self.limits.shard_read_bytes_per_s, clock)
            if reads_limited
            else None
        )
        self._routes: dict[str, tuple[StreamMeta, Router]] = {}
        self._subscriptions: dict[tuple[str, str], ShardSubscription] = {}
        self._subscriptions_lock = threading.Lock()

    # -- control plane --------------------------------------------------------------------

    def create_stream(
        self, name: str, shard_count: int = 1, retention_hours: int = DEFAULT_RETENTION_HOURS
    ) -> StreamMeta:
        first = self.backend.first_sequence()
        meta = resharding.new_stream(name, shard_count, self._clock(), retention_hours, first)
        return self.backend.create_stream(meta)

    def describe_stream(self, name: str) -> StreamMeta:
        return self.backend.load_stream(name)

    def list_streams(self) -> list[str]:
        return self.backend.list_streams()

    def list_shards(self, name: str) -> list[ShardMeta]:
        return self.backend.load_stream(name).listed_shards()

    def delete_stream(self, name: str) -> None:
        self.backend.delete_stream(name)
        self._routes.pop(name, None)

    def set_retention(self, name: str, hours: int) -> StreamMeta:
        """Increase or decrease retention; expired records do not come back."""
        resharding.check_retention(hours)
        return self.backend.update_stream(
            name, lambda meta, _last, _floor: meta.evolve(retention_hours=hours)
        )

    def split_shard(self, name: str, shard_id: str, new_starting_hash_key: str | int) -> StreamMeta:
        key = parse_explicit_hash_key(str(new_starting_hash_key))
        now = self._clock()
        return self._reshard(
            name,
            lambda meta, last, floor: resharding.split_shard(meta, shard_id, key, last, now, floor),
        )

    def merge_shards(self, name: str, shard_id: str, adjacent_shard_id: str) -> StreamMeta:
        now = self._clock()
        return self._reshard(
            name,
            lambda meta, last, floor: resharding.merge_shards(
                meta, shard_id, adjacent_shard_id, last, now, floor
            ),
        )

    def update_shard_count(self, name: str, target_shard_count: int) -> StreamMeta:
        now = self._clock()
        return self._reshard(
            name,
            partial(_update_count, target=target_shard_count, now=now),
        )

    def _reshard(self, name: str, change: Any) -> StreamMeta:
        meta = self.backend.update_stream(name, change)
        self._routes.pop(name, None)
        return meta

    def enforce_retention(self, name: str) -> StreamMeta:
        return self.backend.enforce_retention(name, self._clock())

    # -- writes ---------------------------------------------------------------------------

    def _route(self, name: str, refresh: bool = False) -> tuple[StreamMeta, Router]:
        cached = self._routes.get(name)
        if cached is None or refresh:
            meta = self.backend.load_stream(name)
            router = Router([(s.starting_hash_key, s.ending_hash_key, s.shard_id) for s in meta.open_shards()])
            cached = (meta, router)
            self._routes[name] = cached
        return cached

    def put_record(
        self, name: str, data: bytes, partition_key: str, explicit_hash_key: str | None = None
    ) -> PutRecordsResultEntry:
        """Write one record; raises ValidationError for a bad record, PodiumError if the write failed."""
        result = self.put_records(name, [PutRecordsEntry(data, partition_key, explicit_hash_key)])
        entry = result.records[0]
        if entry.error_code is not None:
            error = ValidationError if entry.error_code == "ValidationError" else PodiumError
            raise error(entry.error_message or "put_record failed", code=entry.error_code)
        return entry

    def put_records(
        self, name: str, records: Sequence[PutRecordsEntry | tuple[Any, ...]]
    ) -> PutRecordsResult:
        """Write a batch. Each record gets a shard and sequence number or an error code and
        message; nothing is dropped silently. Records that share a shard are written
        atomically in request order."""
        limits = self.limits
        count = len(records)
        if count < 1 or count > limits.max_batch_records:
            limits.check_batch(count, 0)
        outcome: list[PutRecordsResultEntry | None] = [None] * count
        max_key, max_bytes = limits.max_partition_key_chars, limits.max_record_bytes
        problem = limits.record_problem
        throttle = self._throttle
        for attempt in range(4):
            meta, router = self._route(name, refresh=attempt > 0)
            bounds, shard_ids = router.digest_starts, router.shard_ids
            batches: dict[str, list[tuple[str, bytes]]] = {s: [] for s in shard_ids}
            positions: dict[str, list[int]] = {s: [] for s in shard_ids}
            total = 0
            for i, entry in enumerate(records):
                if outcome[i] is not None:
                    continue
                data, key = entry[0], entry[1]
                if (
                    type(data) is bytes
                    and type(key) is str
                    and (len(entry) == 2 or entry[2] is None)
                    and 0 < len(key) <= max_key
                    and key.isascii()
                    and len(data) + len(key) <= max_bytes
                ):
                    # The common case, inlined: it runs once per record on the put hot path.
                    # MD5 digests compare as bytes against the shards' 16-byte lower bounds.
                    shard_id = shard_ids[bisect_right(bounds, md5(key.encode()).digest()) - 1]
                    total += len(data) + len(key)
                else:
                    explicit = entry[2] if len(entry) > 2 else None
                    reason = problem(data, key)
                    if reason is None:
                        total += len(data) + len(key.encode("utf-8"))
                        try:
                            shard_id = router.shard_for(key, explicit)
                        except ValidationError as exc:
                            reason = exc.message
                    if reason is not None:
                        outcome[i] = PutRecordsResultEntry(None, None, "ValidationError", reason)
                        continue
                batches[shard_id].append((key, data))
                positions[shard_id].append(i)
            if attempt == 0:
                limits.check_batch(count, total)  # before anything is written or throttled
            for shard_id in shard_ids:
                if not batches[shard_id]:
                    del batches[shard_id], positions[shard_id]
                elif throttle is not None:
                    self._admit(name, shard_id, batches, positions, outcome)
            if not batches:
                break
            try:
                written = self.backend.append(meta, batches)
            except (StaleShardMapError, NotFoundError):
                if attempt < 3:
                    continue
                raise
            except Exception as exc:  # the backend failed: every pending record failed
                written = dict.fromkeys(batches, exc)
            for shard_id, result in written.items():
                idx = positions[shard_id]
                if isinstance(result, Exception):
                    message = f"shard {shard_id}: {result}"
                    for i in idx:
                        outcome[i] = PutRecordsResultEntry(None, None, "InternalFailure", message)
                else:
                    for i, seq in zip(idx, result, strict=True):
                        outcome[i] = PutRecordsResultEntry(shard_id, f"{seq:040d}")
            break
        final = tuple(
            o
            if o is not None
            else PutRecordsResultEntry(
                None, None, "InternalFailure", "the stream was resharded repeatedly; retry"
            )
            for o in outcome
        )
        failed = sum(1 for o in final if o.error_code is not None)
        if self.metrics is not None:
            self._record_puts(name, records, final, failed)
        return PutRecordsResult(final, failed)

    def _admit(
        self,
        name: str,
        shard_id: str,
        batches: dict[str, list[tuple[str, bytes]]],
        positions: dict[str, list[int]],
        outcome: list[PutRecordsResultEntry | None],
    ) -> None:
        """Apply the shard's write throughput limit; records over it fail as throttled."""
        assert self._throttle is not None
        kept: list[tuple[str, bytes]] = []
        kept_at: list[int] = []
        for (key, data), i in zip(batches[shard_id], positions[shard_id], strict=True):
            if self._throttle.admit(name, shard_id, len(data) + len(key)):
                kept.append((key, data))
                kept_at.append(i)
            else:
                outcome[i] = PutRecordsResultEntry(
                    None, None, THROTTLED, f"rate exceeded for shard {shard_id} of stream {name}"
                )
        if kept:
            batches[shard_id], positions[shard_id] = kept, kept_at
        else:
            del batches[shard_id], positions[shard_id]

    def _record_puts(
        self, name: str, records: Sequence[Any], final: Sequence[PutRecordsResultEntry], failed: int
    ) -> None:
        size = sum(len(r[0]) for r, o in zip(records, final, strict=True) if o.error_code is None)
        at = self._clock() / 1000
        dimensions = (("StreamName", name),)
        self.metrics.put("IncomingRecords", len(final) - failed, dimensions, at)
        self.metrics.put("IncomingBytes", size, dimensions, at)
        self.metrics.put("PutRecords.FailedRecords", failed, dimensions, at)
        throttled = sum(1 for o in final if o.error_code == THROTTLED)
        if throttled:
            self.metrics.put("WriteProvisionedThroughputExceeded", throttled, dimensions, at)

    # -- reads ----------------------------------------------------------------------------

    def get_shard_iterator(
        self,
        name: str,
        shard_id: str,
        iterator_type: IteratorType | str,
        starting_sequence_number: str | None = None,
        timestamp: datetime | float | None = None,
    ) -> str:
        kind = IteratorType.parse(iterator_type)
        meta = self.backend.load_stream(name)
        shard = meta.shard(shard_id)
        now = self._clock()
        cutoff = now - meta.retention_hours * 3_600_000
        if kind is IteratorType.TRIM_HORIZON:
            position = shard.starting_sequence
        elif kind is IteratorType.LATEST:
            position = self.backend.latest_position(name, shard)
        elif kind in (IteratorType.AT_SEQUENCE_NUMBER, IteratorType.AFTER_SEQUENCE_NUMBER):
            if starting_sequence_number is None:
                raise ValidationError(
                    f"{kind.value} needs starting_sequence_number", code="InvalidArgument"
                )
            seq = parse_sequence(starting_sequence_number)
            end = shard.ending_sequence
            if seq < shard.starting_sequence or (end is not None and seq > end):
                raise ValidationError(
                    f"sequence number {starting_sequence_number} does not belong to shard "
                    f"'{shard_id}' of stream '{name}'",
                    code="InvalidArgument",
                )
            position = seq if kind is IteratorType.AT_SEQUENCE_NUMBER else seq + 1
        else:
            if timestamp is None:
                raise ValidationError("AT_TIMESTAMP needs a timestamp", code="InvalidArgument")
            at = max(_timestamp_ms(timestamp), cutoff)
            position = self.backend.position_at_timestamp(name, shard, at)
        return ShardPosition(name, shard_id, position, now).encode()

    def get_records(self, shard_iterator: str, limit: int = 10_000) -> GetRecordsResult:
        """A page of records from the iterator's position. Raises ThroughputExceededError
        (ProvisionedThroughputExceededException) when the shard's read limits are set and
        exceeded; the same iterator may then be retried."""
        self.limits.check_get_limit(limit)
        now = self._clock()
        pos = ShardPosition.decode(shard_iterator, now, self.limits.iterator_ttl_ms)
        throttle = self._read_throttle
        if throttle is not None:
            try:
                throttle.admit(pos.stream, pos.shard_id)
            except ThroughputExceededError:
                if self.metrics is not None:
                    self.metrics.put(
                        "ReadProvisionedThroughputExceeded", 1, (("StreamName", pos.stream),), now / 1000
                    )
                raise
            result = self._read_page(pos, limit, now)
            throttle.charge(pos.stream, pos.shard_id, sum(len(r.data) for r in result.records))
            return result
        return self._read_page(pos, limit, now)

    def _read_page(
        self, pos: ShardPosition, limit: int, now: int, count_as_get_records: bool = True
    ) -> GetRecordsResult:
        meta = self.backend.load_stream(pos.stream)
        shard = meta.shard(pos.shard_id)
        children = tuple(c.shard_id for c in meta.children_of(shard.shard_id))
        end = shard.ending_sequence
        if shard.expired or (end is not None and pos.position > end):
            return GetRecordsResult([], None, 0, children)
        cutoff = now - meta.retention_hours * 3_600_000
        batch = self.backend.read(pos.stream, shard, pos.position, limit, cutoff, now)
        if self.metrics is not None and count_as_get_records:
            dimensions = (("StreamName", pos.stream),)
            self.metrics.put("GetRecords.Records", len(batch.records), dimensions, now / 1000)
            self.metrics.put("GetRecords.Bytes", sum(len(r.data) for r in batch.records), dimensions, now / 1000)
            self.metrics.put(
                "GetRecords.IteratorAgeMilliseconds", batch.millis_behind_latest, dimensions, now / 1000
            )
        if end is not None and batch.next_position > end:
            return GetRecordsResult(batch.records, None, 0, children)
        token = ShardPosition(pos.stream, pos.shard_id, batch.next_position, now).encode()
        return GetRecordsResult(batch.records, token, batch.millis_behind_latest)

    # -- enhanced fan-out -----------------------------------------------------------------

    def register_stream_consumer(self, stream: str, consumer_name: str) -> StreamConsumer:
        """Register a consumer for enhanced fan-out (ResourceInUse if the name is taken,
        LimitExceeded past `max_stream_consumers`)."""
        if not consumer_name or len(consumer_name) > 128:
            raise ValidationError(
                f"consumer name must have 1 to 128 characters, got {len(consumer_name)}",
                code="InvalidArgument",
            )
        now = self._clock()
        limit = self.limits.max_stream_consumers

        def change(meta: StreamMeta, _last: Any, _floor: int) -> StreamMeta:
            if any(c.name == consumer_name for c in meta.consumers):
                raise ConflictError(
                    f"stream '{stream}' already has a consumer named '{consumer_name}'",
                    code="ResourceInUse",
                )
            if len(meta.consumers) >= limit:
                raise ConflictError(
                    f"stream '{stream}' has {len(meta.consumers)} registered consumers; the limit "
                    f"is {limit} (setting max_stream_consumers)",
                    code="LimitExceeded",
                )
            added = StreamConsumer(consumer_name, consumer_arn(stream, consumer_name, now), now)
            return meta.evolve(consumers=(*meta.consumers, added))

        return find_consumer(self.backend.update_stream(stream, change), consumer_name)

    def list_stream_consumers(self, stream: str) -> list[StreamConsumer]:
        return list(self.backend.load_stream(stream).consumers)

    def describe_stream_consumer(
        self, stream: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> StreamConsumer:
        """A registered consumer, by stream and name or by ARN."""
        if consumer_arn is not None:
            stream, consumer_name = parse_consumer_arn(consumer_arn)
        if stream is None or consumer_name is None:
            raise ValidationError("give a consumer ARN, or a stream and a consumer name", code="InvalidArgument")
        found = find_consumer(self.backend.load_stream(stream), consumer_name)
        if consumer_arn is not None and found.arn != consumer_arn:
            raise NotFoundError(f"consumer '{consumer_arn}' was deregistered", code="ResourceNotFound")
        return found

    def deregister_stream_consumer(self, stream: str, consumer_name: str) -> None:
        """Remove a registered consumer; its subscriptions end."""

        def change(meta: StreamMeta, _last: Any, _floor: int) -> StreamMeta:
            gone = find_consumer(meta, consumer_name)
            return meta.evolve(consumers=tuple(c for c in meta.consumers if c is not gone))

        self.backend.update_stream(stream, change)
        with self._subscriptions_lock:
            ended = [s for s in self._subscriptions.values() if s.stream == stream and s.consumer.name == consumer_name]
        for sub in ended:
            sub.close()

    def subscribe_to_shard(
        self,
        consumer_arn: str,
        shard_id: str,
        starting_position: IteratorType | str,
        sequence_number: str | None = None,
        timestamp: datetime | float | None = None,
        batch_limit: int = 10_000,
    ) -> ShardSubscription:
        """Start pushing a shard's records to a registered consumer (see `fanout.py`)."""
        consumer = self.describe_stream_consumer(consumer_arn=consumer_arn)
        stream, _ = parse_consumer_arn(consumer_arn)
        self.limits.check_get_limit(batch_limit)
        iterator = self.get_shard_iterator(stream, shard_id, starting_position, sequence_number, timestamp)
        key = (consumer.arn, shard_id)
        with self._subscriptions_lock:
            existing = self._subscriptions.get(key)
            check_takeover(existing, self._clock())
            sub = ShardSubscription(
                self, consumer, stream, shard_id, iterator, self.limits.subscription_ttl_ms, batch_limit
            )
            self._subscriptions[key] = sub
        if existing is not None:
            existing.close()  # taken over
        return sub

    def _subscription_closed(self, sub: ShardSubscription) -> None:
        with self._subscriptions_lock:
            key = (sub.consumer.arn, sub.shard_id)
            if self._subscriptions.get(key) is sub:
                del self._subscriptions[key]

    def close(self) -> None:
        with self._subscriptions_lock:
            subs = list(self._subscriptions.values())
        for sub in subs:
            sub.close()
        self.backend.close()

    def shutdown(self) -> None:
        """Called by the API server when it stops."""
        self.close()


def _update_count(
    meta: StreamMeta, last: Any, floor: int, *, target: int, now: int
) -> StreamMeta:
    return resharding.update_shard_count(meta, target, last, now, floor)

