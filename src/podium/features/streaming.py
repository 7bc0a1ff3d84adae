"""Ingestion from a stream consumer (podium.ingest.streams): records ingested once per
checkpoint, bad records quarantined with a reason and counted.

    consumer = Consumer(streams, store, "features-loader", "clicks", idle_timeout_s=1)
    result = fs.ingest_stream("clicks", consumer)

Per batch of one shard:

1. Records at or below the shard's **high-water mark** are skipped. The mark is the last
   sequence number of the shard that a *completed* stream ingestion of this group,
   application and stream recorded. A consumer delivers records again after a crash (from
   its last checkpoint, at-least-once); the mark makes each record land once.
2. Each record is decoded (JSON object by default, or `decode(bytes) -> dict`) and checked
   against the group's definition. A record that does not decode or does not conform is
   **quarantined**: one JSON line with the reason, shard, sequence number, partition key
   and the data, in `<lake>/features/quarantine/<group>/<stream>/<application>/<shard>/
   <first>-<last>.jsonl`, and counted (lineage details and the result).
3. The good records are written as one ingestion (kind `stream`, source
   `stream:<stream>/<application>/<shard>`) whose lineage details record the batch's first
   and last sequence numbers and the quarantine count — written last, so the mark moves
   only with a complete write.
4. The consumer checkpoints the shard at the batch's last record (SHARD_END at a shard's
   end).

A write that failed or was cut off by a crash (its ingestion not completed) is undone
before the shard is read again: its offline files are removed and the ingestion is marked
`abandoned`, so the records it held are written exactly once, by the retry. The online
store needs no undo: the retry writes the same values under a newer write order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from podium.errors import PodiumError
from podium.features import lineage as kinds
from podium.features.records import conform, to_arrow

if TYPE_CHECKING:
    from podium.features.feature_store import FeatureStore

SHARD_END = "SHARD_END"


@dataclass
class StreamIngestResult:
    """What a stream ingestion did, summed over its batches."""

    batches: int = 0
    records: int = 0
    rows: int = 0
    rows_online: int = 0
    quarantined: int = 0
    skipped: int = 0
    ingestions: list[int] = field(default_factory=list)
    quarantine_files: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decode_json(data: bytes) -> Mapping[str, Any]:
    """The default decoder: one JSON object per record."""
    value = json.loads(data)
    if not isinstance(value, Mapping):
        raise ValueError(f"a record must be a JSON object, not {type(value).__name__}")
    return value


class StreamIngestor:
    """Feeds a feature group from one consumer worker (one per process, as with the KCL)."""

    def __init__(
        self,
        features: FeatureStore,
        group: str,
        consumer: Any,
        *,
        decode: Callable[[bytes], Mapping[str, Any]] = decode_json,
        target_stores: Any = None,
    ) -> None:
        self.features = features
        self.group = group
        self.consumer = consumer
        self.decode = decode
        self.target_stores = target_stores
        features.describe_group(group)  # fail early on an unknown group
        self._marks: dict[str, int | None] = {}

    def source(self, shard_id: str) -> str:
        return f"stream:{self.consumer.stream}/{self.consumer.application}/{shard_id}"

    def run(self, *, max_batches: int | None = None) -> StreamIngestResult:
        """Process batches until the consumer is idle (its idle_timeout_s) or stopped, or
        `max_batches` have been processed."""
        result = StreamIngestResult()
        for batch in self.consumer:
            self.process(batch, result)
            if max_batches is not None and result.batches >= max_batches:
                break
        return result

    def process(self, batch: Any, result: StreamIngestResult | None = None,
                *, checkpoint: bool = True) -> StreamIngestResult:
        """Ingest one ConsumerBatch, then checkpoint it (unless `checkpoint` is False)."""
        result = result if result is not None else StreamIngestResult()
        shard = batch.shard_id
        mark = self._mark(shard)
        # The stream position this batch ends at: with KPL de-aggregation several records
        # share one sequence number, and a batch always holds whole aggregates.
        last = getattr(batch, "last_sequence_number", None) or (
            batch.records[-1].sequence_number if batch.records else None
        )
        records = [r for r in batch.records if mark is None or int(r.sequence_number) > mark]
        result.batches += 1
        result.records += len(batch.records)
        result.skipped += len(batch.records) - len(records)
        if records and last is not None:
            self._ingest(shard, records, last, result)
            self._marks[shard] = int(last)
        if checkpoint:
            if batch.shard_ended:
                self.consumer.checkpoint_at(shard, SHARD_END)
            elif last is not None:
                self.consumer.checkpoint_at(shard, last)
        return result

    def _mark(self, shard: str) -> int | None:
        """The shard's high-water mark, after undoing writes of this source that did not
        complete (the first time this ingestor sees the shard)."""
        if shard not in self._marks:
            lineage = self.features.lineage
            source = self.source(shard)
            for ingestion in lineage.ingestions(self.group, kind=kinds.KIND_STREAM, source=source,
                                                statuses=("started", "failed")):
                removed = self.features.offline.remove(
                    self.features.offline.ingestion_files(self.group, ingestion.id)
                )
                lineage.abandon(
                    ingestion.id,
                    f"not completed ({ingestion.status}); {removed} offline file(s) removed, "
                    "its records are ingested again",
                )
            # Marks only grow, so the newest completed write of the shard holds it.
            newest = lineage.ingestions(self.group, kind=kinds.KIND_STREAM, source=source,
                                        statuses=(kinds.COMPLETED,), newest_first=True, limit=1)
            last = (newest[0].details or {}).get("last_sequence") if newest else None
            self._marks[shard] = int(last) if last is not None else None
        return self._marks[shard]

    def _ingest(self, shard: str, records: list[Any], last: str, result: StreamIngestResult) -> None:
        definition = self.features.describe_group(self.group)
        decoded: list[tuple[Any, Mapping[str, Any]]] = []
        bad: list[tuple[Any, str]] = []
        for record in records:
            try:
                decoded.append((record, self.decode(record.data)))
            except (ValueError, TypeError, UnicodeDecodeError) as exc:
                bad.append((record, f"decode: {exc}"))
        good: list[Mapping[str, Any]] = [value for _, value in decoded]
        if _problem(definition, good) is not None:
            # Some record is bad: check each on its own to name and set aside only those.
            good = []
            for record, value in decoded:
                reason = _problem(definition, [value])
                if reason is None:
                    good.append(value)
                else:
                    bad.append((record, reason))
            bad.sort(key=lambda item: int(item[0].sequence_number))
        first = records[0].sequence_number
        details: dict[str, Any] = {
            "shard": shard, "first_sequence": first, "last_sequence": last,
            "records": len(records), "quarantined": len(bad),
        }
        if bad:
            path = self._quarantine(shard, first, last, bad)
            details["quarantine"] = path
            result.quarantine_files.append(path)
            result.quarantined += len(bad)
            for _, reason in bad:
                kind = reason.split(":", 1)[0]
                result.reasons[kind] = result.reasons.get(kind, 0) + 1
        if good:
            written = self.features._write(
                self.group, good, kind=kinds.KIND_STREAM, source=self.source(shard),
                target_stores=self.target_stores, details=details,
            )
        else:
            written = self.features._record_empty(self.group, kinds.KIND_STREAM, self.source(shard), details)
        result.ingestions.append(written.ingestion_id)
        result.rows += written.rows
        result.rows_online += written.rows_online

    def _quarantine(self, shard: str, first: str, last: str, bad: list[tuple[Any, str]]) -> str:
        """Write the bad records as JSON lines; the name is fixed by the batch's range, so a
        batch delivered again after a crash overwrites its own file."""
        offline = self.features.offline
        folder = (
            f"{offline.root.rsplit('/', 1)[0]}/quarantine/{self.group}/"
            f"{self.consumer.stream}/{self.consumer.application}/{shard}"
        )
        path = f"{folder}/{first}-{last}.jsonl"
        lines = []
        for record, reason in bad:
            try:
                data: Any = record.data.decode("utf-8")
                encoding = "utf-8"
            except UnicodeDecodeError:
                data, encoding = base64.b64encode(record.data).decode("ascii"), "base64"
            lines.append(json.dumps({
                "reason": reason, "shard": shard, "sequence_number": record.sequence_number,
                "partition_key": record.partition_key, "data": data, "encoding": encoding,
            }))
        offline.fs.makedirs(folder, exist_ok=True)
        hidden = f"{folder}/.{first}-{last}.jsonl.tmp"
        with offline.fs.open(hidden, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        offline.fs.mv(hidden, path)
        return path


def _problem(group: Any, values: list[Mapping[str, Any]]) -> str | None:
    """Why `values` cannot be rows of `group` (type, unknown or missing column), or None."""
    if not values:
        return None
    try:
        conform(group, to_arrow(values, group.name))
    except PodiumError as exc:
        return f"invalid: {exc.message}"
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        return f"invalid: {exc}"
    return None
