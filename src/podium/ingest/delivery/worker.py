"""The delivery process: read a stream, transform, convert, partition, buffer, write to the lake.

Records come from the source stream through a `Consumer` (application
`delivery.<name>`), so several delivery processes can share the shards. Each consumer batch
is tracked until every one of its records is in a visible lake object (or was dropped by the
transform); only then is the shard checkpointed past it. A crash therefore loses nothing
that was acknowledged to a producer: records after the last checkpoint are delivered again
(duplicates, never gaps).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from podium.errors import BackendUnavailableError
from podium.ingest.delivery.definition import DeliveryDefinition, DeliveryLimits
from podium.ingest.delivery.query import QueryMiss
from podium.ingest.delivery.sink import LakeSink
from podium.ingest.delivery.transform import (
    DROPPED,
    OK,
    Transform,
    apply_transform,
    lambda_transform,
    resolve_transform,
)
from podium.ingest.streams.client import StreamsClient
from podium.ingest.streams.consumer import Consumer, ConsumerBatch
from podium.ingest.streams.leases import SHARD_END
from podium.store import Store

log = logging.getLogger(__name__)

PROCESSING_FAILED = "processing-failed"
CONVERSION_FAILED = "format-conversion-failed"
PARTITION_FAILED = "DynamicPartitioning.MetadataExtractionFailed"
PARTITIONS_EXCEEDED = "DynamicPartitioning.ActivePartitionsLimitExceeded"


@dataclass
class DeliveryStats:
    records_in: int = 0
    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    files: int = 0
    error_files: int = 0
    bytes_written: int = 0
    transform_failures: int = 0
    sink_errors: int = 0


@dataclass
class _Pending:
    """A consumer batch whose records are not all in the lake yet."""

    shard_id: str
    checkpoint: str
    remaining: int = 0


@dataclass
class _Buffer:
    partition: dict[str, str] | None
    error_type: str | None
    opened_ms: int
    oldest_ts: int
    items: list[Any] = field(default_factory=list)
    owners: list[_Pending] = field(default_factory=list)
    size: int = 0


def _clock_ms() -> int:
    return time.time_ns() // 1_000_000


class DeliveryWorker:
    """Runs one delivery stream; `step()` does one round, `run()` loops."""

    def __init__(
        self,
        definition: DeliveryDefinition,
        streams: StreamsClient,
        store: Store,
        lake_url: str,
        *,
        transform: Transform | None = None,
        functions: dict[str, str] | None = None,
        registry: Any = None,
        pool: Any = None,
        limits: DeliveryLimits | None = None,
        worker_id: str | None = None,
        lease_ms: int = 10_000,
        batch_limit: int = 1000,
        clock: Callable[[], int] = _clock_ms,
    ) -> None:
        self.definition = definition
        self.compiled = definition.compile(limits)
        self.limits = limits or DeliveryLimits()
        self.clock = clock
        extra: dict[str, Any] = {"worker_id": worker_id} if worker_id else {}
        self.consumer = Consumer(
            streams,
            store,
            f"delivery.{definition.name}",
            definition.backing_stream,
            lease_ms=lease_ms,
            batch_limit=batch_limit,
            **extra,
        )
        self.sink = LakeSink(lake_url, definition.retry_duration_s)
        if transform is None and definition.transform:
            transform = resolve_transform(definition.transform, functions)
        if transform is None and definition.transform_function:
            if registry is None or pool is None:
                from podium.errors import ConfigError

                raise ConfigError(
                    f"delivery stream '{definition.name}' transforms with function "
                    f"'{definition.transform_function}': give the worker a FunctionRegistry and pool"
                )
            spec = registry.get(definition.transform_function)
            transform = lambda_transform(pool, spec, definition.name)
        self.transform = transform
        self.stats = DeliveryStats()
        self._buffers: dict[tuple[Any, ...], _Buffer] = {}
        self._pending: dict[str, deque[_Pending]] = {}
        self._size_limit = int(definition.buffer_size_mb * 1024 * 1024)
        self._interval_ms = int(definition.buffer_interval_s * 1000)
        # Parquet without partitioning keeps raw JSON and parses whole buffers in Arrow.
        self._parse_json = bool(definition.partition_keys)

    # -- loop -----------------------------------------------------------------------------

    def step(self) -> bool:
        """Read one batch if any, flush the buffers that are due; True if records came."""
        batch = self.consumer.poll()
        if batch is not None:
            self._ingest(batch)
        self._flush(due_only=True)
        return batch is not None

    def run(self, should_stop: Callable[[], bool] = lambda: False, idle_sleep_s: float = 0.1) -> None:
        while not should_stop():
            if not self.step():
                time.sleep(idle_sleep_s)

    def flush(self) -> int:
        """Write every buffer now, whatever the hints; returns the number of objects written."""
        written = 0
        for _ in range(3):  # records moved to the error buffer while writing need a second pass
            written += self._flush(due_only=False)
            if not self._buffers:
                break
        return written

    def close(self) -> None:
        self.flush()
        self.consumer.close()

    # -- ingest ---------------------------------------------------------------------------

    def _ingest(self, batch: ConsumerBatch) -> None:
        records = batch.records
        checkpoint = SHARD_END if batch.shard_ended else batch.last_sequence_number
        if checkpoint is None:
            return  # nothing was read (the consumer never hands out such a batch)
        pending = _Pending(batch.shard_id, checkpoint)
        self._pending.setdefault(batch.shard_id, deque()).append(pending)
        self.stats.records_in += len(records)
        if self.transform is not None and records:
            outcomes, failures = apply_transform(
                self.transform,
                [(_record_id(r), r.approximate_arrival_timestamp, r.data) for r in records],
                self.definition.transform_retries,
            )
            self.stats.transform_failures += failures
        else:
            outcomes = None
        now = self.clock()
        compiled = self.compiled
        for i, record in enumerate(records):
            data = record.data
            if outcomes is not None:
                outcome = outcomes[i]
                if outcome.result == DROPPED:
                    self.stats.dropped += 1
                    continue
                if outcome.result != OK:
                    self._error(record, batch.shard_id, PROCESSING_FAILED, outcome.reason or "", pending, now)
                    continue
                data = outcome.data
            item: Any = data
            partition: dict[str, str] | None = None
            if self._parse_json:
                try:
                    document = json.loads(data)
                except ValueError as exc:
                    kind = CONVERSION_FAILED if self.definition.format == "parquet" else PARTITION_FAILED
                    self._error(record, batch.shard_id, kind, f"not a JSON document: {exc}", pending, now, data)
                    continue
                if compiled.queries:
                    try:
                        partition = {k: q.evaluate(document) for k, q in compiled.queries.items()}
                    except QueryMiss as exc:
                        self._error(record, batch.shard_id, PARTITION_FAILED, str(exc), pending, now, data)
                        continue
                if self.definition.format == "parquet":
                    if not isinstance(document, dict):
                        self._error(record, batch.shard_id, CONVERSION_FAILED, "not a JSON object", pending, now, data)
                        continue
                    item = document
            key = ("ok", tuple(sorted(partition.items())) if partition else ())
            buffer = self._buffers.get(key)
            if buffer is None:
                active = sum(1 for k in self._buffers if k[0] == "ok")
                if partition and active >= self.limits.max_active_partitions:
                    self._error(
                        record, batch.shard_id, PARTITIONS_EXCEEDED,
                        f"more than {self.limits.max_active_partitions} active partitions", pending, now, data,
                    )
                    continue
                buffer = self._buffers[key] = _Buffer(partition, None, now, record.approximate_arrival_timestamp)
            self._add(buffer, item, len(data), pending, record.approximate_arrival_timestamp)
        self._advance()

    def _add(self, buffer: _Buffer, item: Any, size: int, pending: _Pending, ts: int) -> None:
        buffer.items.append(item)
        buffer.owners.append(pending)
        buffer.size += size
        buffer.oldest_ts = min(buffer.oldest_ts, ts)
        pending.remaining += 1

    def _error(
        self,
        record: Any,
        shard_id: str,
        kind: str,
        reason: str,
        pending: _Pending,
        now: int,
        data: bytes | None = None,
    ) -> None:
        body = {
            "attemptsMade": 1,
            "arrivalTimestamp": record.approximate_arrival_timestamp,
            "errorCode": kind,
            "errorMessage": reason,
            "shardId": shard_id,
            "sequenceNumber": record.sequence_number,
            "rawData": base64.b64encode(data if data is not None else record.data).decode(),
        }
        line = json.dumps(body).encode() + b"\n"
        key = ("error", kind)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = _Buffer(None, kind, now, record.approximate_arrival_timestamp)
        self._add(buffer, line, len(line), pending, record.approximate_arrival_timestamp)

    # -- flush ----------------------------------------------------------------------------

    def _flush(self, due_only: bool) -> int:
        now = self.clock()
        written = 0
        for key, buffer in list(self._buffers.items()):
            due = buffer.size >= self._size_limit or now - buffer.opened_ms >= self._interval_ms
            if due_only and not due:
                continue
            try:
                self._write(key, buffer)
            except BackendUnavailableError as exc:
                # Keep the buffer (and the checkpoint) where they are; try again next round.
                self.stats.sink_errors += 1
                log.warning("delivery %s: %s", self.definition.name, exc)
                continue
            written += 1
        self._advance()
        return written

    def _object_name(self, ts_ms: int, extension: str) -> str:
        moment = datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d-%H-%M-%S")
        d = self.definition
        return f"{d.name}-{d.version}-{moment}-{uuid.uuid4()}{extension}"

    def _write(self, key: tuple[Any, ...], buffer: _Buffer) -> None:
        d = self.definition
        if buffer.error_type is not None:
            prefix = self.compiled.error_prefix.render(buffer.oldest_ts, error_type=buffer.error_type)
            path = f"{d.destination}/{prefix}{self._object_name(buffer.oldest_ts, '')}"
            payload = b"".join(buffer.items)
            self.sink.write(path, payload)
            self.stats.failed += len(buffer.items)
            self.stats.error_files += 1
        else:
            if d.format == "parquet":
                payload = self._to_parquet(buffer)
                extension = ".parquet"
            else:
                payload = b"".join(buffer.items)
                extension = ""
            if buffer.items:
                prefix = self.compiled.prefix.render(buffer.oldest_ts, buffer.partition)
                path = f"{d.destination}/{prefix}{self._object_name(buffer.oldest_ts, extension)}"
                self.sink.write(path, payload)
                self.stats.delivered += len(buffer.items)
                self.stats.files += 1
        self.stats.bytes_written += len(payload)
        for owner in buffer.owners:
            owner.remaining -= 1
        if self._buffers.get(key) is buffer:
            del self._buffers[key]

    def _to_parquet(self, buffer: _Buffer) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = self.compiled.arrow_schema
        table = None
        if buffer.items and isinstance(buffer.items[0], bytes):
            table = self._read_json(buffer.items)
            if table is None:  # some record does not fit: find it the slow way
                self._parse_rows(buffer)
        if table is None:
            try:
                table = pa.Table.from_pylist(buffer.items, schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                table = self._isolate_bad_rows(buffer)
        sink = io.BytesIO()
        compression = None if self.definition.compression == "none" else self.definition.compression
        pq.write_table(table, sink, compression=compression)
        return sink.getvalue()

    def _read_json(self, items: list[bytes]) -> Any:
        """All records of a buffer as one Arrow table, or None if any does not convert."""
        import pyarrow as pa
        import pyarrow.json as pj

        blob = b"\n".join(items)
        options = pj.ParseOptions(
            explicit_schema=self.compiled.arrow_schema,
            unexpected_field_behavior="ignore",
            newlines_in_values=True,
        )
        try:
            table = pj.read_json(
                io.BytesIO(blob),
                read_options=pj.ReadOptions(block_size=max(1 << 20, len(blob) + 1)),
                parse_options=options,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(items):  # a record held several objects (or none)
            return None
        return table.select(self.compiled.arrow_schema.names)

    def _parse_rows(self, buffer: _Buffer) -> None:
        """Parse raw JSON records one by one; records that are not objects go to errors."""
        rows, owners = [], []
        now = self.clock()
        for raw, owner in zip(buffer.items, buffer.owners, strict=True):
            try:
                row = json.loads(raw)
                problem = None if isinstance(row, dict) else "not a JSON object"
            except ValueError as exc:
                problem = f"not a JSON document: {exc}"
            if problem is not None:
                owner.remaining -= 1  # re-homed: _error counts it again in the error buffer
                record = _RowRecord(buffer.oldest_ts, "")
                self._error(record, owner.shard_id, CONVERSION_FAILED, problem, owner, now, raw)
                continue
            rows.append(row)
            owners.append(owner)
        buffer.items, buffer.owners = rows, owners

    def _isolate_bad_rows(self, buffer: _Buffer) -> Any:
        """Move rows that do not fit the schema to the error prefix, keep the rest."""
        import pyarrow as pa

        schema = self.compiled.arrow_schema
        good, good_owners = [], []
        now = self.clock()
        for row, owner in zip(buffer.items, buffer.owners, strict=True):
            try:
                pa.Table.from_pylist([row], schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                record = _RowRecord(buffer.oldest_ts, "")
                owner.remaining -= 1  # re-homed: _error counts it again in the error buffer
                self._error(record, owner.shard_id, CONVERSION_FAILED, str(exc), owner, now, json.dumps(row).encode())
                continue
            good.append(row)
            good_owners.append(owner)
        buffer.items, buffer.owners = good, good_owners
        return pa.Table.from_pylist(good, schema=schema)

    # -- checkpoints ----------------------------------------------------------------------

    def _advance(self) -> None:
        for shard_id, queue in list(self._pending.items()):
            done = None
            while queue and queue[0].remaining == 0:
                done = queue.popleft()
            lost = done is not None and not self.consumer.checkpoint_at(shard_id, done.checkpoint)
            if lost:
                self._pending.pop(shard_id, None)  # lease lost: the new owner redelivers
                continue
            if not queue:
                self._pending.pop(shard_id, None)

    @property
    def buffered_records(self) -> int:
        return sum(len(b.items) for b in self._buffers.values())


@dataclass(frozen=True)
class _RowRecord:
    approximate_arrival_timestamp: int
    sequence_number: str
    data: bytes = b""


def _record_id(record: Any) -> str:
    """The transform's recordId: the sequence number, plus the sub-sequence number for a user
    record unpacked from a KPL aggregate (its siblings share the sequence number)."""
    sub = getattr(record, "sub_sequence_number", None)
    return record.sequence_number if sub is None else f"{record.sequence_number}.{sub}"
