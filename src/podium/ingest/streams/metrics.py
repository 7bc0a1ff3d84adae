"""Per-stream metrics under Kinesis's CloudWatch names, read from a `podium.metrics.MetricStore`.

A `StreamsClient` given a MetricStore (`StreamsClient(backend, metrics=store)`, as the API
server does) records, with the dimension `StreamName`:

    IncomingRecords, IncomingBytes              successful puts
    PutRecords.FailedRecords                    records of put_records that failed
    WriteProvisionedThroughputExceeded          records refused by the write limit
    GetRecords.Records, GetRecords.Bytes        what reads returned
    GetRecords.IteratorAgeMilliseconds          MillisBehindLatest of each read
    ReadProvisionedThroughputExceeded           reads refused by the read limit
    SubscribeToShardEvent.Records               records pushed to enhanced fan-out consumers
    SubscribeToShardEvent.MillisBehindLatest    their lag

Alarms of `podium.metrics` can watch these series like any other; `summary` gives a window
of them as JSON and `prometheus` as Prometheus text.
"""

from __future__ import annotations

from typing import Any

COUNTERS = (
    "IncomingRecords",
    "IncomingBytes",
    "PutRecords.FailedRecords",
    "WriteProvisionedThroughputExceeded",
    "GetRecords.Records",
    "GetRecords.Bytes",
    "ReadProvisionedThroughputExceeded",
    "SubscribeToShardEvent.Records",
)
AGES = ("GetRecords.IteratorAgeMilliseconds", "SubscribeToShardEvent.MillisBehindLatest")


def dimensions(stream: str) -> tuple[tuple[str, str], ...]:
    return (("StreamName", stream),)


def summary(metrics: Any, stream: str, window_seconds: float = 300.0) -> dict[str, Any]:
    """Sums of the counters and the maximum and average ages over the last window."""
    dims = dimensions(stream)
    body: dict[str, Any] = {}
    for name in COUNTERS:
        body[name] = {"Sum": metrics.statistic(name, dims, "Sum", window_seconds) or 0}
    for name in AGES:
        body[name] = {
            "Maximum": metrics.statistic(name, dims, "Maximum", window_seconds),
            "Average": metrics.statistic(name, dims, "Average", window_seconds),
        }
    return {"StreamName": stream, "WindowSeconds": window_seconds, "Metrics": body}


def _metric_name(name: str) -> str:
    out = []
    for i, char in enumerate(name.replace(".", "_")):
        if char.isupper() and i and name[i - 1] not in "._" and not name[i - 1].isupper():
            out.append("_")
        out.append(char.lower())
    return "podium_stream_" + "".join(out)


def prometheus(metrics: Any, stream: str, window_seconds: float = 60.0) -> str:
    """Prometheus text: counter totals since the process started, and the latest window's
    maximum iterator ages, labelled with the stream name."""
    dims = dimensions(stream)
    label = '{stream_name="' + stream.replace("\\", "\\\\").replace('"', '\\"') + '"}'
    lines: list[str] = []
    for name in COUNTERS:
        metric = _metric_name(name) + "_total"
        lines.append(f"# TYPE {metric} counter")
        lines.append(f"{metric}{label} {metrics.total(name, dims):g}")
    for name in AGES:
        metric = _metric_name(name).removesuffix("_milliseconds") + "_max_milliseconds"
        value = metrics.statistic(name, dims, "Maximum", window_seconds)
        lines.append(f"# TYPE {metric} gauge")
        lines.append(f"{metric}{label} {value if value is not None else 0:g}")
    return "\n".join(lines) + "\n"
