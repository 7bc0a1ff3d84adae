"""The stream data model: stream and shard metadata, records, and the results of puts and reads.

Records and put entries are NamedTuples rather than dataclasses because millions of them are
built on the hot path and a tuple is several times cheaper to create; they are still immutable
and typed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from podium.errors import NotFoundError
from podium.ingest.streams.sequence import format_sequence

DEFAULT_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760


class Record(NamedTuple):
    """One record as read back from a shard."""

    sequence_number: str
    approximate_arrival_timestamp: int  # epoch milliseconds
    data: bytes
    partition_key: str


class PutRecordsEntry(NamedTuple):
    """One record to put: data, partition key and an optional explicit hash key (decimal)."""

    data: bytes
    partition_key: str
    explicit_hash_key: str | None = None


class PutRecordsResultEntry(NamedTuple):
    """The outcome of one record of a batch: a shard and sequence number, or an error."""

    shard_id: str | None
    sequence_number: str | None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class PutRecordsResult:
    """Per-record outcomes, in the order of the request; failed ones must be retried."""

    records: tuple[PutRecordsResultEntry, ...]
    failed_record_count: int

    def failed(self) -> list[int]:
        """Indexes of the records that were not written."""
        return [i for i, r in enumerate(self.records) if r.error_code is not None]


@dataclass(frozen=True)
class ShardMeta:
    """One shard: its hash key range, lineage, and the sequence numbers it spans.

    `starting_sequence` is the first sequence number the shard may assign; `ending_sequence`
    is set when the shard is closed by a reshard (the last sequence number it holds, or one
    below `starting_sequence` when it received nothing). `expired` shards are past retention
    and no longer listed, but stay in the metadata so that their children's lineage resolves.
    """

    shard_id: str
    starting_hash_key: int
    ending_hash_key: int
    starting_sequence: int
    parent_shard_id: str | None = None
    adjacent_parent_shard_id: str | None = None
    ending_sequence: int | None = None
    closed_at_ms: int | None = None
    expired: bool = False

    @property
    def is_open(self) -> bool:
        return self.ending_sequence is None

    def to_dict(self) -> dict[str, Any]:
        """The Kinesis `Shard` shape used by describe/list and the HTTP API."""
        body: dict[str, Any] = {
            "ShardId": self.shard_id,
            "HashKeyRange": {
                "StartingHashKey": str(self.starting_hash_key),
                "EndingHashKey": str(self.ending_hash_key),
            },
            "SequenceNumberRange": {"StartingSequenceNumber": format_sequence(self.starting_sequence)},
        }
        if self.ending_sequence is not None:
            body["SequenceNumberRange"]["EndingSequenceNumber"] = format_sequence(
                self.ending_sequence
            )
        if self.parent_shard_id:
            body["ParentShardId"] = self.parent_shard_id
        if self.adjacent_parent_shard_id:
            body["AdjacentParentShardId"] = self.adjacent_parent_shard_id
        return body


@dataclass(frozen=True)
class StreamConsumer:
    """A consumer registered for enhanced fan-out (RegisterStreamConsumer)."""

    name: str
    arn: str
    created_ms: int
    status: str = "ACTIVE"

    def to_dict(self) -> dict[str, Any]:
        """The Kinesis `Consumer` shape."""
        return {
            "ConsumerName": self.name,
            "ConsumerARN": self.arn,
            "ConsumerStatus": self.status,
            "ConsumerCreationTimestamp": self.created_ms / 1000,
        }


@dataclass(frozen=True)
class StreamMeta:
    """A stream's durable description. `version` increases on every change, so writers
    holding an older copy can tell that shards were closed under them."""

    name: str
    created_ms: int
    shards: tuple[ShardMeta, ...]
    retention_hours: int = DEFAULT_RETENTION_HOURS
    next_shard_index: int = 0
    version: int = 1
    status: str = "ACTIVE"
    consumers: tuple[StreamConsumer, ...] = ()

    def shard(self, shard_id: str) -> ShardMeta:
        for s in self.shards:
            if s.shard_id == shard_id:
                return s
        raise NotFoundError(
            f"stream '{self.name}' has no shard '{shard_id}'; list its shards with "
            f"`podium stream describe {self.name}`",
            code="ResourceNotFound",
        )

    def open_shards(self) -> list[ShardMeta]:
        return sorted((s for s in self.shards if s.is_open), key=lambda s: s.starting_hash_key)

    def listed_shards(self) -> list[ShardMeta]:
        """Open and closed shards that have not expired, in creation order."""
        return [s for s in self.shards if not s.expired]

    def children_of(self, shard_id: str) -> list[ShardMeta]:
        return [
            s
            for s in self.shards
            if s.parent_shard_id == shard_id or s.adjacent_parent_shard_id == shard_id
        ]

    def evolve(self, **changes: Any) -> StreamMeta:
        return replace(self, version=self.version + 1, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_ms": self.created_ms,
            "retention_hours": self.retention_hours,
            "next_shard_index": self.next_shard_index,
            "version": self.version,
            "status": self.status,
            "shards": [
                {
                    "shard_id": s.shard_id,
                    # 128-bit integers are kept as strings: JSON readers elsewhere use doubles.
                    "starting_hash_key": str(s.starting_hash_key),
                    "ending_hash_key": str(s.ending_hash_key),
                    "starting_sequence": s.starting_sequence,
                    "parent_shard_id": s.parent_shard_id,
                    "adjacent_parent_shard_id": s.adjacent_parent_shard_id,
                    "ending_sequence": s.ending_sequence,
                    "closed_at_ms": s.closed_at_ms,
                    "expired": s.expired,
                }
                for s in self.shards
            ],
            "consumers": [[c.name, c.arn, c.created_ms, c.status] for c in self.consumers],
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> StreamMeta:
        shards = tuple(
            ShardMeta(
                shard_id=s["shard_id"],
                starting_hash_key=int(s["starting_hash_key"]),
                ending_hash_key=int(s["ending_hash_key"]),
                starting_sequence=int(s["starting_sequence"]),
                parent_shard_id=s.get("parent_shard_id"),
                adjacent_parent_shard_id=s.get("adjacent_parent_shard_id"),
                ending_sequence=s.get("ending_sequence"),
                closed_at_ms=s.get("closed_at_ms"),
                expired=bool(s.get("expired", False)),
            )
            for s in body["shards"]
        )
        return cls(
            name=body["name"],
            created_ms=int(body["created_ms"]),
            shards=shards,
            retention_hours=int(body.get("retention_hours", DEFAULT_RETENTION_HOURS)),
            next_shard_index=int(body.get("next_shard_index", len(shards))),
            version=int(body.get("version", 1)),
            status=body.get("status", "ACTIVE"),
            consumers=tuple(
                StreamConsumer(str(c[0]), str(c[1]), int(c[2]), str(c[3]))
                for c in body.get("consumers", ())
            ),
        )


@dataclass(frozen=True)
class GetRecordsResult:
    """A page of records from one shard.

    `next_shard_iterator` is None once a closed shard has been read to its end; then
    `child_shards` names the shards to read next.
    """

    records: list[Record]
    next_shard_iterator: str | None
    millis_behind_latest: int
    child_shards: tuple[str, ...] = ()


class ReadBatch(NamedTuple):
    """What a backend returns for one read: records, the next position, and the lag."""

    records: list[Record]
    next_position: int
    millis_behind_latest: int
