"""Enhanced fan-out: registered consumers that get a shard's records pushed to them.

    consumer = streams.register_stream_consumer("clicks", "billing")
    with streams.subscribe_to_shard(consumer.arn, "shardId-000000000000", "TRIM_HORIZON") as sub:
        for event in sub:                       # SubscribeToShardEvent, pushed as records arrive
            handle(event.records)
            position = event.continuation_sequence_number   # AT_SEQUENCE_NUMBER next time

As in Kinesis: up to `StreamLimits.max_stream_consumers` (20) consumers per stream, each
with its own read throughput (the shared GetRecords limits do not apply); a subscription
pushes events for at most `subscription_ttl_ms` (5 minutes) and then ends, and the caller
subscribes again from the last event's `continuation_sequence_number`; one subscription per
consumer and shard at a time: subscribing again within 5 seconds fails with
ResourceInUse, later the new subscription takes over and the old one ends. At a closed
shard's end the last event has no continuation and names the child shards.

A subscription is a background thread that reads the shard and pushes events into a small
bounded queue, so a slow handler holds the reader back instead of piling up memory (the
HTTP/2 flow control of the AWS API). Subscriptions live in the process of the
`StreamsClient` that made them.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.streams.iterators import ShardPosition
from podium.ingest.streams.model import Record, StreamConsumer, StreamMeta
from podium.ingest.streams.sequence import format_sequence

if TYPE_CHECKING:
    from podium.ingest.streams.client import StreamsClient

TAKEOVER_MS = 5_000  # a second subscription within this fails; after it, it takes over
_CLOSED = object()


@dataclass(frozen=True)
class SubscribeToShardEvent:
    records: list[Record]
    # Where to go on: subscribe again with AT_SEQUENCE_NUMBER and this number (it is past
    # every record handed out so far). None at the end of a closed shard.
    continuation_sequence_number: str | None
    millis_behind_latest: int
    child_shards: tuple[str, ...] = ()


def consumer_arn(stream: str, name: str, created_ms: int) -> str:
    """Kinesis's consumer ARN shape, with Podium's partition and no account."""
    return f"arn:podium:kinesis:local:stream/{stream}/consumer/{name}:{created_ms // 1000}"


def parse_consumer_arn(arn: str) -> tuple[str, str]:
    """(stream, consumer name) of a consumer ARN."""
    try:
        _, rest = arn.split(":stream/", 1)
        stream, _, tail = rest.partition("/consumer/")
        name = tail.rsplit(":", 1)[0]
    except ValueError:
        stream = name = ""
    if not stream or not name:
        raise ValidationError(
            f"'{arn}' is not a consumer ARN (arn:podium:kinesis:local:stream/<stream>/consumer/<name>:<time>)",
            code="InvalidArgument",
        )
    return stream, name


def find_consumer(meta: StreamMeta, name: str) -> StreamConsumer:
    for c in meta.consumers:
        if c.name == name:
            return c
    raise NotFoundError(
        f"stream '{meta.name}' has no registered consumer '{name}'; register it with "
        "register_stream_consumer",
        code="ResourceNotFound",
    )


class ShardSubscription:
    """Events of one shard for one registered consumer; iterate it (or call `next_event`)."""

    def __init__(
        self,
        client: StreamsClient,
        consumer: StreamConsumer,
        stream: str,
        shard_id: str,
        iterator: str,
        ttl_ms: int,
        batch_limit: int = 10_000,
        poll_interval_s: float = 0.02,
        idle_event_ms: int = 1_000,
        queue_events: int = 4,
    ) -> None:
        self.consumer = consumer
        self.stream = stream
        self.shard_id = shard_id
        self.started_ms = client._clock()
        self.ttl_ms = ttl_ms
        self.error: BaseException | None = None
        self._client = client
        self._iterator = iterator
        self._batch_limit = batch_limit
        self._poll_interval_s = poll_interval_s
        self._idle_event_ms = idle_event_ms
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_events)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._run, name=f"podium-efo-{consumer.name}-{shard_id}", daemon=True
        )
        self._thread.start()

    # -- the pushing side -----------------------------------------------------------------

    def _push(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        client = self._client
        last_event = 0.0
        try:
            while not self._stop.is_set():
                now = client._clock()
                if now - self.started_ms >= self.ttl_ms:
                    break
                pos = ShardPosition.decode(self._iterator, now, None)
                # The consumer's own throughput: the shared per-shard read limits do not apply.
                page = client._read_page(pos, self._batch_limit, now, count_as_get_records=False)
                ended = page.next_shard_iterator is None
                continuation = None
                if not ended:
                    self._iterator = page.next_shard_iterator  # type: ignore[assignment]
                    next_pos = ShardPosition.decode(self._iterator, now, None).position
                    continuation = format_sequence(next_pos)
                idle = not page.records and not ended
                if idle and time.monotonic() - last_event < self._idle_event_ms / 1000:
                    self._stop.wait(self._poll_interval_s)
                    continue
                event = SubscribeToShardEvent(
                    page.records, continuation, page.millis_behind_latest, page.child_shards
                )
                if client.metrics is not None:
                    dims = (("StreamName", self.stream),)
                    client.metrics.put_many(
                        (
                            ("SubscribeToShardEvent.Records", len(page.records), dims),
                            ("SubscribeToShardEvent.MillisBehindLatest", page.millis_behind_latest, dims),
                        ),
                        now / 1000,
                    )
                if not self._push(event):
                    return
                last_event = time.monotonic()
                if ended:
                    break
                if idle:
                    self._stop.wait(self._poll_interval_s)
        except BaseException as exc:  # handed to the reader, raised from next_event
            self.error = exc
        finally:
            self._push(_CLOSED)

    # -- the receiving side ---------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> SubscribeToShardEvent | None:
        """The next event, or None if none came within `timeout` seconds or the
        subscription is over (see `done`). Re-raises an error of the reading thread."""
        if self._done:
            return None
        try:
            item = self._queue.get(timeout=timeout) if timeout != 0 else self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is _CLOSED:
            self._done = True
            if self.error is not None:
                raise self.error
            return None
        event: SubscribeToShardEvent = item
        return event

    @property
    def done(self) -> bool:
        """True once every event has been handed out and the subscription ended."""
        return self._done

    def __iter__(self) -> Any:
        while not self._done:
            event = self.next_event(timeout=0.5)
            if event is not None:
                yield event

    def close(self) -> None:
        self._stop.set()
        self._done = True
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._client._subscription_closed(self)

    @property
    def active(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def __enter__(self) -> ShardSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_takeover(existing: ShardSubscription | None, now_ms: int) -> None:
    """Raise ResourceInUse when a live subscription of the same consumer and shard is
    younger than five seconds; an older one is ended by the caller."""
    if existing is not None and existing.active and now_ms - existing.started_ms < TAKEOVER_MS:
        raise ConflictError(
            f"consumer '{existing.consumer.name}' already has a subscription to shard "
            f"'{existing.shard_id}' (started {now_ms - existing.started_ms} ms ago); "
            f"subscribe again after {TAKEOVER_MS // 1000} s to take it over",
            code="ResourceInUse",
        )
