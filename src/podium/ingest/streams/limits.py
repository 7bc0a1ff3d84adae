"""Limits on records and batches, and the checks that enforce them.

The defaults are Kinesis's (1 MiB per record including its partition key, keys of 1-256
characters, 500 records and 5 MiB per batch, 10,000 records per read). They exist in AWS to
protect a shared fleet, so here they are settings; the semantics stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from podium.errors import ValidationError


@dataclass(frozen=True)
class StreamLimits:
    max_record_bytes: int = 1024 * 1024
    max_partition_key_chars: int = 256
    max_batch_records: int = 500
    max_batch_bytes: int = 5 * 1024 * 1024
    max_get_records: int = 10_000
    iterator_ttl_ms: int | None = 300_000  # Kinesis expires iterators after 5 minutes
    # Per-shard write throughput (Kinesis: 1,000 records/s and 1 MiB/s); None = unlimited.
    shard_records_per_s: int | None = None
    shard_bytes_per_s: int | None = None
    # Per-shard read throughput shared by polling consumers (Kinesis: 5 GetRecords calls/s
    # and 2 MiB/s); None = unlimited. Enhanced fan-out subscriptions are not counted here.
    shard_read_tps: int | None = None
    shard_read_bytes_per_s: int | None = None
    # Enhanced fan-out: registered consumers per stream, and how long one subscription lasts.
    max_stream_consumers: int = 20
    subscription_ttl_ms: int = 300_000

    def record_problem(self, data: object, partition_key: object) -> str | None:
        """Why a record cannot be written, or None when it is fine."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            return f"data must be bytes, got {type(data).__name__}"
        if not isinstance(partition_key, str):
            return f"partition key must be a string, got {type(partition_key).__name__}"
        key_chars = len(partition_key)
        if key_chars < 1 or key_chars > self.max_partition_key_chars:
            return (
                f"partition key must have 1 to {self.max_partition_key_chars} characters, "
                f"got {key_chars}"
            )
        size = len(data) + len(partition_key.encode("utf-8"))
        if size > self.max_record_bytes:
            return (
                f"record is {size} bytes with its partition key; the limit is "
                f"{self.max_record_bytes} (setting max_record_bytes)"
            )
        return None

    def check_batch(self, count: int, total_bytes: int) -> None:
        if count < 1:
            raise ValidationError("put_records needs at least one record", code="InvalidArgument")
        if count > self.max_batch_records:
            raise ValidationError(
                f"put_records got {count} records; the limit is {self.max_batch_records} per "
                "call: split the batch",
                code="InvalidArgument",
            )
        if total_bytes > self.max_batch_bytes:
            raise ValidationError(
                f"put_records got {total_bytes} bytes; the limit is {self.max_batch_bytes} per "
                "call: split the batch",
                code="InvalidArgument",
            )

    def check_get_limit(self, limit: int) -> None:
        if limit < 1 or limit > self.max_get_records:
            raise ValidationError(
                f"get_records limit must be 1 to {self.max_get_records}, got {limit}",
                code="InvalidArgument",
            )
