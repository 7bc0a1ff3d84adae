"""In-memory metric series: timestamped samples per (name, dimensions), queried by window.

Samples older than the retention window are dropped as new ones arrive, so memory is bounded
by traffic in the window. The clock is passed in (or time.time), so tests control time.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Dimensions = tuple[tuple[str, str], ...]
STATISTICS = ("Sum", "SampleCount", "Average", "Minimum", "Maximum", "p50", "p90", "p95", "p99")


def dims(**values: str) -> Dimensions:
    return tuple(sorted(values.items()))


@dataclass
class _Series:
    times: list[float]
    values: list[float]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class MetricStore:
    """Thread-safe store of metric samples with windowed statistics."""

    def __init__(self, retention_seconds: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.retention = retention_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._series: dict[tuple[str, Dimensions], _Series] = defaultdict(lambda: _Series([], []))
        self._totals: dict[tuple[str, Dimensions], float] = defaultdict(float)

    def put(self, name: str, value: float, dimensions: Dimensions = (), at: float | None = None) -> None:
        now = self.clock() if at is None else at
        key = (name, dimensions)
        with self._lock:
            series = self._series[key]
            if series.times and now < series.times[-1]:
                index = bisect.bisect_right(series.times, now)
                series.times.insert(index, now)
                series.values.insert(index, value)
            else:
                series.times.append(now)
                series.values.append(value)
            self._totals[key] += value
            cutoff = now - self.retention
            if series.times[0] < cutoff:
                drop = bisect.bisect_left(series.times, cutoff)
                del series.times[:drop]
                del series.values[:drop]

    def samples(self, name: str, dimensions: Dimensions, window_seconds: float,
                now: float | None = None) -> list[float]:
        end = self.clock() if now is None else now
        with self._lock:
            series = self._series.get((name, dimensions))
            if series is None:
                return []
            start = bisect.bisect_left(series.times, end - window_seconds)
            stop = bisect.bisect_right(series.times, end)
            return series.values[start:stop]

    def statistic(self, name: str, dimensions: Dimensions, statistic: str, window_seconds: float,
                  now: float | None = None) -> float | None:
        """The statistic over the window, or None when there were no samples."""
        values = self.samples(name, dimensions, window_seconds, now)
        if not values:
            return None
        if statistic == "Sum":
            return float(sum(values))
        if statistic == "SampleCount":
            return float(len(values))
        if statistic == "Average":
            return sum(values) / len(values)
        if statistic == "Minimum":
            return min(values)
        if statistic == "Maximum":
            return max(values)
        if statistic.startswith("p"):
            return percentile(sorted(values), float(statistic[1:]) / 100)
        raise ValueError(f"unknown statistic {statistic!r}; use one of {', '.join(STATISTICS)}")

    def keys(self) -> list[tuple[str, Dimensions]]:
        with self._lock:
            return list(self._series)

    def total(self, name: str, dimensions: Dimensions) -> float:
        with self._lock:
            return self._totals.get((name, dimensions), 0.0)

    def prometheus(self, counters: Iterable[str], histograms: Iterable[str]) -> str:
        """Prometheus text format: totals for counters, recent quantiles for latency histograms."""
        counter_names, histogram_names = set(counters), set(histograms)
        lines: list[str] = []
        with self._lock:
            keys = sorted(self._series)
            totals = dict(self._totals)
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
                values = sorted(self.samples(name, dimensions, 60.0))
                for q in (0.5, 0.9, 0.99):
                    quantile = percentile(values, q) if values else math.nan
                    labels = _labels(dimensions + (("quantile", str(q)),))
                    lines.append(f"{metric}{labels} {quantile:g}")
                lines.append(f"{metric}_count{_labels(dimensions)} {len(values)}")
        return "\n".join(lines) + "\n"


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
