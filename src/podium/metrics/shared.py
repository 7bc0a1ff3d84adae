"""Metrics of every process serving an endpoint, merged through the metadata store.

Each router process records into its own in-memory `MetricStore` (no database work per
request). A `SharedMetrics` beside it publishes that store's changed per-second buckets to the
`serving_metric_buckets` table about once a second, from a background thread, and answers
queries over the merged view: this process's buckets, read from memory (so nothing it recorded
is missing, flushed or not), plus the rows every *other* process published. Rows are keyed by
the publishing store's `source_id`, so its own rows are never counted twice. A row holds a
bucket's whole content, so publishing it again after more samples simply replaces it.

Remote rows are read at most every `refresh_seconds` per series (a deployment's bake loop
evaluates its alarms many times a second) and pruned once they are older than `keep_seconds`.
What another process recorded is therefore seen here within about flush + refresh seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select

from podium.metrics.series import Dimensions, MetricStore, Window, _Bucket
from podium.store import Store
from podium.store.tables.serving import serving_metric_buckets as T

log = logging.getLogger(__name__)


def encode_dimensions(dimensions: Dimensions) -> str:
    return json.dumps([list(pair) for pair in dimensions], separators=(",", ":"))


def _row(name: str, dimensions: Dimensions, second: int, source: str, bucket: _Bucket) -> dict[str, Any]:
    return {"name": name, "dimensions": encode_dimensions(dimensions), "second": second, "source": source,
            "count": bucket.count, "total": bucket.total, "low": bucket.low, "high": bucket.high,
            "histogram": {str(index): n for index, n in bucket.histogram.items()}}


def _bucket(row: Any) -> _Bucket:
    bucket = _Bucket()
    bucket.count, bucket.total, bucket.low, bucket.high = int(row.count), row.total, row.low, row.high
    bucket.histogram = {int(index): int(n) for index, n in (row.histogram or {}).items()}
    return bucket


class SharedMetrics:
    """`local`'s buckets published to `store`, and statistics over every process's buckets."""

    def __init__(self, store: Store, local: MetricStore, *, flush_seconds: float = 1.0,
                 refresh_seconds: float = 0.5, keep_seconds: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.local = local
        self.source = local.source_id
        self.flush_seconds = flush_seconds
        self.refresh_seconds = refresh_seconds
        self.keep_seconds = local.retention if keep_seconds is None else keep_seconds
        self._monotonic = monotonic
        self._pending: dict[tuple[str, Dimensions, int], _Bucket] = {}
        self._flush_lock = threading.Lock()
        self._pruned_at = -float("inf")
        # (name, dimensions) -> (read at, first second read, {second: merged remote bucket})
        self._remote: dict[tuple[str, Dimensions], tuple[float, int, dict[int, _Bucket]]] = {}
        self._remote_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failing = False

    # ---- publishing ---------------------------------------------------------------------
    def flush(self) -> int:
        """Publish the buckets that changed since the last flush (and any a failed flush left);
        prune old rows about once a minute. Returns how many rows were written."""
        with self._flush_lock:
            for name, dimensions, second, bucket in self.local.changed():
                self._pending[(name, dimensions, second)] = bucket
            # While the store is unreachable, keep no more than the rows it would keep.
            cutoff = int(self.local.clock() - self.keep_seconds)
            for stale in [key for key in self._pending if key[2] < cutoff]:
                del self._pending[stale]
            rows = [_row(name, dims, second, self.source, bucket)
                    for (name, dims, second), bucket in self._pending.items()]
            now = self._monotonic()
            prune = now - self._pruned_at >= 60
            if not rows and not prune:
                return 0
            with self.store.begin() as conn:
                if rows:
                    conn.execute(self._upsert(), rows)
                if prune:
                    conn.execute(delete(T).where(T.c.second < cutoff))
            self._pending.clear()
            if prune:
                self._pruned_at = now
            return len(rows)

    def _upsert(self) -> Any:
        dialect_insert: Any
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = dialect_insert(T)
        return statement.on_conflict_do_update(
            index_elements=[T.c.name, T.c.dimensions, T.c.second, T.c.source],
            set_={column: statement.excluded[column] for column in ("count", "total", "low", "high", "histogram")})

    def start(self) -> None:
        """Flush every `flush_seconds` in a background thread until `close()` (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="podium-metrics-flush", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
                if self._failing:
                    log.info("publishing metrics to the metadata store works again")
                self._failing = False
            except Exception:  # kept pending and retried on the next round
                if not self._failing:
                    log.exception("publishing metrics to the metadata store failed; retrying every %g s",
                                  self.flush_seconds)
                self._failing = True

    def close(self) -> None:
        """Stop the flush thread and publish what is left (best effort)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=5)
            try:
                self.flush()
            except Exception:
                log.exception("publishing the last metrics to the metadata store failed")

    # ---- reading ------------------------------------------------------------------------
    def _remote_buckets(self, name: str, dimensions: Dimensions, first: int) -> dict[int, _Bucket]:
        """Buckets other processes published for the series from second `first` on, merged per
        second; re-read when the cached copy is older than `refresh_seconds` or starts later."""
        key = (name, dimensions)
        now = self._monotonic()
        with self._remote_lock:
            cached = self._remote.get(key)
            if cached is not None:
                if now - cached[0] < self.refresh_seconds and cached[1] <= first:
                    return cached[2]
                first = min(first, cached[1])  # alarms look back several periods: keep reading them
            with self.store.connect() as conn:
                rows = conn.execute(
                    select(T.c.second, T.c.count, T.c.total, T.c.low, T.c.high, T.c.histogram)
                    .where(T.c.name == name, T.c.dimensions == encode_dimensions(dimensions),
                           T.c.second >= first, T.c.source != self.source)).all()
            merged: dict[int, _Bucket] = {}
            for row in rows:
                bucket = _bucket(row)
                if row.second in merged:
                    merged[row.second].merge(bucket)
                else:
                    merged[row.second] = bucket
            self._remote[key] = (now, first, merged)
            return merged

    def window(self, name: str, dimensions: Dimensions, window_seconds: float,
               now: float | None = None) -> Window:
        """The series over (now - window_seconds, now] as every process recorded it."""
        end = self.local.clock() if now is None else now
        start = end - window_seconds
        local = self.local.buckets(name, dimensions, window_seconds, end)
        remote = self._remote_buckets(name, dimensions, int(start // 1))
        return Window(local + [b for s, b in remote.items() if s + 1 > start and s <= end])

    def statistic(self, name: str, dimensions: Dimensions, statistic: str, window_seconds: float,
                  now: float | None = None) -> float | None:
        """The statistic over the window across every process, or None without samples."""
        return self.window(name, dimensions, window_seconds, now).statistic(statistic)
