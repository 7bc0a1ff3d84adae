"""In-memory metric series aggregated per second, queried by window.

Every (name, dimensions) series keeps one bucket per second: count, sum, minimum, maximum and a
log-scale histogram (1 % wide bins) from which percentiles are read. Recording a sample is a
few dictionary updates, so a router can afford it on every request, and memory is bounded by
the retention window and the spread of values, not by traffic. Percentiles are accurate to
about 1 %; Sum, SampleCount, Average, Minimum and Maximum are exact. The clock is passed in
(or time.time), so tests control time.

A `Recorder` (what the router uses per request) updates one bucket per value: the series it
records into. The series it is *rolled up* into (per endpoint, per variant, ...) keep no copy
of those samples; reads, `changed()` and `prometheus()` derive them by merging the buckets of
every series rolled into them (plus any sample `put` to them directly), so a rolled-up series
reads exactly as if each sample had been recorded into it as well.

`changed()` hands out copies of the buckets that changed since its last call, for
podium.metrics.shared to publish to the metadata store; recording pays nothing for it beyond
one comparison per call.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Protocol

Dimensions = tuple[tuple[str, str], ...]
STATISTICS = ("Sum", "SampleCount", "Average", "Minimum", "Maximum", "p50", "p90", "p95", "p99")

_LOG_BASE = math.log(1.01)
_ZERO_BIN = -(10**9)  # zero and negative values share one bin, read back as the window minimum
_EVER = -(2**62)  # the scan horizon before `MetricStore.changed` is first called: every second


class MetricSource(Protocol):
    """What alarms and views read: a statistic of one series over a window (a `MetricStore`,
    or podium.metrics.shared's view over every process)."""

    def statistic(self, name: str, dimensions: Dimensions, statistic: str, window_seconds: float,
                  now: float | None = None) -> float | None: ...


def dims(**values: str) -> Dimensions:
    return tuple(sorted(values.items()))


class _Bucket:
    __slots__ = ("count", "high", "histogram", "low", "published", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.histogram: dict[int, int] = {}
        self.published = 0  # the count when `MetricStore.changed` last handed it out

    def copy(self) -> _Bucket:
        twin = _Bucket()
        twin.count, twin.total, twin.low, twin.high = self.count, self.total, self.low, self.high
        twin.histogram = dict(self.histogram)
        return twin

    def add(self, value: float, index: int) -> None:
        """Count `value`, whose histogram bin is `index` (`_bin(value)`)."""
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        self.histogram[index] = self.histogram.get(index, 0) + 1

    def merge(self, other: _Bucket) -> None:
        """Add `other`'s samples to this bucket."""
        self.count += other.count
        self.total += other.total
        if other.low < self.low:
            self.low = other.low
        if other.high > self.high:
            self.high = other.high
        histogram = self.histogram
        for index, n in other.histogram.items():
            histogram[index] = histogram.get(index, 0) + n


def _bin(value: float) -> int:
    return math.floor(math.log(value) / _LOG_BASE) if value > 0 else _ZERO_BIN


class Window:
    """Buckets of one series merged over a window: the statistics an alarm or a view needs."""

    def __init__(self, buckets: list[_Bucket]) -> None:
        self.count = sum(b.count for b in buckets)
        self.total = sum(b.total for b in buckets)
        self.low = min((b.low for b in buckets), default=math.nan)
        self.high = max((b.high for b in buckets), default=math.nan)
        merged: dict[int, int] = {}
        for bucket in buckets:
            for index, n in bucket.histogram.items():
                merged[index] = merged.get(index, 0) + n
        self._bins = sorted(merged.items())

    def statistic(self, statistic: str) -> float | None:
        if not self.count:
            return None
        if statistic == "Sum":
            return self.total
        if statistic == "SampleCount":
            return float(self.count)
        if statistic == "Average":
            return self.total / self.count
        if statistic == "Minimum":
            return self.low
        if statistic == "Maximum":
            return self.high
        if statistic.startswith("p"):
            return self.quantile(float(statistic[1:]) / 100)
        raise ValueError(f"unknown statistic {statistic!r}; use one of {', '.join(STATISTICS)}")

    def quantile(self, fraction: float) -> float:
        """Nearest-rank quantile, read as the middle of its 1 % bin (kept within min..max)."""
        if not self.count:
            return math.nan
        rank, seen = max(1, math.ceil(fraction * self.count)), 0
        for index, n in self._bins:
            seen += n
            if seen >= rank:
                if index == _ZERO_BIN:
                    return self.low
                middle = math.exp((index + 0.5) * _LOG_BASE)
                return min(self.high, max(self.low, middle))
        return self.high


class MetricStore:
    """Thread-safe store of per-second metric buckets with windowed statistics."""

    def __init__(self, retention_seconds: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.retention = retention_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._series: dict[tuple[str, Dimensions], dict[int, _Bucket]] = {}
        self._totals: dict[tuple[str, Dimensions], float] = {}
        self._pruned_at = 0
        # Identifies this store's buckets among those published by every process.
        self.source_id = uuid.uuid4().hex
        # `changed()` scans seconds from here on; a sample for an earlier second (a time given
        # by the caller) is noted in `_late`. Until `changed()` is first called nothing is noted.
        self._horizon = _EVER
        self._late: set[tuple[tuple[str, Dimensions], int]] = set()
        # Rolled-up series -> the series rolled into it, and back (see `recorder`).
        self._sources: dict[tuple[str, Dimensions], list[tuple[str, Dimensions]]] = {}
        self._rolled_into: dict[tuple[str, Dimensions], list[tuple[str, Dimensions]]] = {}

    def put(self, name: str, value: float, dimensions: Dimensions = (), at: float | None = None) -> None:
        self.put_many(((name, value, dimensions),), at)

    def put_many(self, samples: Iterable[tuple[str, float, Dimensions]], at: float | None = None) -> None:
        """Record several samples at one time under one lock acquisition."""
        now = self.clock() if at is None else at
        second = int(now // 1)
        with self._lock:
            late = second < self._horizon
            for name, value, dimensions in samples:
                key = (name, dimensions)
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = {}
                    self._totals[key] = 0.0
                bucket = series.get(second)
                if bucket is None:
                    bucket = series[second] = _Bucket()
                bucket.add(value, _bin(value))
                self._totals[key] += value
                if late:
                    self._late.add((key, second))
            if second - self._pruned_at >= 60:
                self._prune(second)

    def recorder(self, names: tuple[str, ...], dimensions: Dimensions,
                 rollups: tuple[Dimensions, ...] = ()) -> Recorder:
        """A fast way to record one value per name (what a router does on each request): the
        series (name, dimensions) are looked up once, here, not per sample. Each series
        (name, r) for r in `rollups` then reads as if every sample were also recorded into it;
        it is derived from the series rolled into it when read, not updated per sample."""
        with self._lock:
            targets = []
            for name in names:
                key = (name, dimensions)
                for series_key in (key, *((name, r) for r in rollups)):
                    if series_key not in self._series:
                        self._series[series_key], self._totals[series_key] = {}, 0.0
                for rolled in ((name, r) for r in rollups if r != dimensions):
                    sources = self._sources.setdefault(rolled, [])
                    if key not in sources:
                        sources.append(key)
                        self._rolled_into.setdefault(key, []).append(rolled)
                targets.append((key, self._series[key]))
        return Recorder(self, tuple(targets))

    def _parts(self, key: tuple[str, Dimensions]) -> list[dict[int, _Bucket]]:
        """The series whose buckets make up `key`'s: its own, and those rolled into it."""
        own = self._series.get(key, {})
        sources = self._sources.get(key)
        if not sources:
            return [own]
        return [own, *(self._series[source] for source in sources)]

    def _total(self, key: tuple[str, Dimensions]) -> float:
        total = self._totals.get(key, 0.0)
        for source in self._sources.get(key, ()):
            total += self._totals[source]
        return total

    def _prune(self, second: int) -> None:
        """Drop buckets older than the retention window (once a minute, under the lock)."""
        self._pruned_at = second
        cutoff = second - self.retention
        for series in self._series.values():
            for stale in [s for s in series if s < cutoff]:
                del series[stale]
        self._late = {(key, s) for key, s in self._late if s >= cutoff}

    def changed(self) -> list[tuple[str, Dimensions, int, _Bucket]]:
        """Copies of the buckets whose samples changed since the previous call (the first call:
        every bucket), as (name, dimensions, second, bucket); a rolled-up series' bucket is the
        merge of its parts for that second. Each copy holds the bucket's whole content, not the
        difference, so publishing one twice is harmless."""
        with self._lock:
            now_second = int(self.clock() // 1)
            horizon, out = self._horizon, []
            rolled: set[tuple[tuple[str, Dimensions], int]] = set()

            def note(key: tuple[str, Dimensions], second: int, bucket: _Bucket) -> None:
                bucket.published = bucket.count
                if key in self._sources:
                    rolled.add((key, second))
                else:
                    out.append((key[0], key[1], second, bucket.copy()))
                for into in self._rolled_into.get(key, ()):
                    rolled.add((into, second))

            for key, series in self._series.items():
                if now_second - horizon >= len(series):
                    seconds = [s for s in series if s >= horizon]
                else:
                    seconds = [s for s in range(horizon, now_second + 1) if s in series]
                for second in seconds:
                    bucket = series[second]
                    if bucket.count != bucket.published:
                        note(key, second, bucket)
            for key, second in self._late:
                late = self._series.get(key, {}).get(second)
                if late is not None and late.count != late.published:
                    note(key, second, late)
            self._late.clear()
            for key, second in sorted(rolled):
                merged = _Bucket()
                for part in self._parts(key):
                    found = part.get(second)
                    if found is not None:
                        merged.merge(found)
                if merged.count:
                    out.append((key[0], key[1], second, merged))
            # The current second may get more samples: it is scanned again next time.
            self._horizon = now_second
        return out

    def buckets(self, name: str, dimensions: Dimensions, window_seconds: float,
                now: float | None = None) -> list[_Bucket]:
        """Copies of the buckets `window` would merge (seconds overlapping (now - window, now])."""
        end = self.clock() if now is None else now
        start = end - window_seconds
        with self._lock:
            return [b.copy() for series in self._parts((name, dimensions))
                    for s, b in series.items() if s + 1 > start and s <= end]

    def window(self, name: str, dimensions: Dimensions, window_seconds: float,
               now: float | None = None) -> Window:
        """The buckets of seconds overlapping (now - window_seconds, now], merged."""
        end = self.clock() if now is None else now
        start = end - window_seconds
        with self._lock:
            buckets = [b for series in self._parts((name, dimensions))
                       for s, b in series.items() if s + 1 > start and s <= end]
        return Window(buckets)

    def statistic(self, name: str, dimensions: Dimensions, statistic: str, window_seconds: float,
                  now: float | None = None) -> float | None:
        """The statistic over the window, or None when there were no samples."""
        return self.window(name, dimensions, window_seconds, now).statistic(statistic)

    def keys(self) -> list[tuple[str, Dimensions]]:
        with self._lock:
            return list(self._series)

    def total(self, name: str, dimensions: Dimensions) -> float:
        with self._lock:
            return self._total((name, dimensions))

    def prometheus(self, counters: Iterable[str], histograms: Iterable[str]) -> str:
        """Prometheus text format: totals for counters, recent quantiles for latency histograms."""
        counter_names, histogram_names = set(counters), set(histograms)
        lines: list[str] = []
        with self._lock:
            keys = sorted(self._series)
            totals = {key: self._total(key) for key in keys}
        for name in sorted(counter_names):
            metric = "podium_" + _snake(name) + "_total"
            lines.append(f"# TYPE {metric} counter")
            for key_name, dimensions in keys:
                if key_name == name:
                    lines.append(f"{metric}{_labels(dimensions)} {totals[(key_name, dimensions)]:g}")
        for name in sorted(histogram_names):
            metric = "podium_" + _snake(name) + "_milliseconds"
            lines.append(f"# TYPE {metric} summary")
            for key_name, dimensions in keys:
                if key_name != name:
                    continue
                window = self.window(name, dimensions, 60.0)
                for q in (0.5, 0.9, 0.99):
                    labels = _labels(dimensions + (("quantile", str(q)),))
                    lines.append(f"{metric}{labels} {window.quantile(q):g}")
                lines.append(f"{metric}_count{_labels(dimensions)} {window.count}")
        return "\n".join(lines) + "\n"


class Recorder:
    """Records one value per name (in the order given to `MetricStore.recorder`) into its series;
    same result as `put_many` with every (name, value, dimensions), and the rolled-up series
    read as if each value were put under their dimensions too."""

    __slots__ = ("_buckets", "_keys", "_pruned_at", "_second", "_store", "_targets")

    def __init__(self, store: MetricStore,
                 targets: tuple[tuple[tuple[str, Dimensions], dict[int, _Bucket]], ...]) -> None:
        self._store = store
        self._targets = targets
        self._keys = [key for key, _ in targets]
        # The buckets of the last second recorded, valid while the store has not pruned since.
        self._second: int | None = None
        self._pruned_at = 0
        self._buckets: list[_Bucket] = []

    def record(self, values: Iterable[float], at: float | None = None) -> None:
        store = self._store
        now = store.clock() if at is None else at
        second = int(now // 1)
        totals = store._totals
        with store._lock:
            if second != self._second or self._pruned_at != store._pruned_at:
                buckets = []
                for _, series in self._targets:
                    bucket = series.get(second)
                    if bucket is None:
                        bucket = series[second] = _Bucket()
                    buckets.append(bucket)
                self._buckets, self._second, self._pruned_at = buckets, second, store._pruned_at
            for value, bucket, key in zip(values, self._buckets, self._keys, strict=True):
                bucket.add(value, _bin(value))
                totals[key] += value
            if second < store._horizon:
                store._late.update((key, second) for key in self._keys)
            if second - store._pruned_at >= 60:
                store._prune(second)


def _snake(name: str) -> str:
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def _labels(dimensions: Dimensions) -> str:
    if not dimensions:
        return ""
    body = ",".join(f'{_snake(k)}="{v}"' for k, v in dimensions)
    return "{" + body + "}"
