"""The contract every stream backend keeps (embedded log, Redis Streams).

A backend stores stream metadata and, per shard, an ordered log of records. It knows
nothing of partition-key routing, iterators or validation: `StreamsClient` does those once
for all backends. Positions are the integers behind sequence numbers (see `sequence.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from podium.errors import ConflictError
from podium.ingest.streams.model import ReadBatch, ShardMeta, StreamMeta

# change(current meta, last sequence number per open shard, lowest allowed new sequence) -> new meta
MetaChange = Callable[[StreamMeta, Mapping[str, int], int], StreamMeta]


class StaleShardMapError(ConflictError):
    """A put targeted a shard that a reshard has closed; re-route with fresh metadata."""

    code = "StaleShardMap"


class StreamBackend(Protocol):
    """Durable storage for streams of records split into shards."""

    def first_sequence(self) -> int:
        """The starting sequence number for the shards of a stream created now."""
        ...

    def create_stream(self, meta: StreamMeta) -> StreamMeta:
        """Persist a new stream and return it. Raises ConflictError if the name is taken.
        Durable on return."""
        ...

    def load_stream(self, name: str) -> StreamMeta:
        """The current metadata of a stream; NotFoundError if there is none. May be read by
        any process at any time, concurrently with writers."""
        ...

    def list_streams(self) -> list[str]:
        """Names of all streams, sorted."""
        ...

    def delete_stream(self, name: str) -> None:
        """Remove a stream and all its records. NotFoundError if it does not exist."""
        ...

    def update_stream(self, name: str, change: MetaChange) -> StreamMeta:
        """Apply `change` to the stream's metadata atomically with respect to appends.

        While `change` runs no record can be appended to the stream, so the last sequence
        numbers it is given are final for any shard it closes: closing a parent and opening
        children is one step for every writer and reader. `floor` is the smallest sequence
        number this backend may assign to a shard opened now. Durable on return.
        """
        ...

    def append(
        self, meta: StreamMeta, batches: Mapping[str, Sequence[tuple[str, bytes]]]
    ) -> dict[str, list[int] | Exception]:
        """Append (partition key, data) records to shards; return their sequence numbers.

        Guarantees, per shard: the records of one call are appended in the order given, and
        atomically (a reader sees all of them or none of them, and after a crash either all
        survive or none do); their sequence numbers are larger than any earlier record's in
        the shard; once this returns a shard's sequence numbers, those records survive the
        writing process being killed (and, with fsync "always", power loss). A shard whose
        append failed maps to the exception instead, without affecting the other shards.
        Raises StaleShardMapError, appending nothing, if any target shard is no longer open.
        """
        ...

    def read(
        self, stream: str, shard: ShardMeta, position: int, limit: int, min_timestamp_ms: int, now_ms: int
    ) -> ReadBatch:
        """Up to `limit` records of `shard` with sequence number >= `position`, oldest first,
        skipping records that arrived before `min_timestamp_ms` (past retention).

        Never returns part of an appended batch. `next_position` is where the next read
        continues; `millis_behind_latest` is 0 when nothing newer is stored. Readers may be
        other processes than the writer.
        """
        ...

    def latest_position(self, stream: str, shard: ShardMeta) -> int:
        """The position just after the newest record of the shard (LATEST)."""
        ...

    def position_at_timestamp(self, stream: str, shard: ShardMeta, timestamp_ms: int) -> int:
        """The position of the first record that arrived at or after `timestamp_ms`, or the
        latest position if there is none (AT_TIMESTAMP, and TRIM_HORIZON with the retention
        cut-off)."""
        ...

    def enforce_retention(self, stream: str, now_ms: int) -> StreamMeta:
        """Delete records older than the retention period (whole segments or entries, as
        the engine allows) and mark closed shards whose records all expired as expired."""
        ...

    def close(self) -> None:
        """Flush what is pending and release files, locks and connections."""
        ...
