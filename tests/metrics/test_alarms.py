"""Windowed statistics and alarm state changes, with time passed in."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from podium.errors import ValidationError
from podium.metrics import Alarm, AlarmState, MetricStore
from podium.metrics.series import STATISTICS, Dimensions, dims


def test_statistics_over_a_window() -> None:
    store = MetricStore()
    d = dims(EndpointName="ep")
    for i, value in enumerate([5.0, 1.0, 9.0, 3.0]):
        store.put("ModelLatency", value, d, at=100.0 + i)
    assert store.statistic("ModelLatency", d, "Average", 10, now=104) == 4.5
    assert store.statistic("ModelLatency", d, "Maximum", 2, now=104) == 9.0  # samples at 102, 103
    assert store.statistic("ModelLatency", d, "p50", 10, now=104) == pytest.approx(3.0, rel=0.01)
    assert store.statistic("ModelLatency", d, "Sum", 10, now=50) is None


def test_ratio_alarm_goes_to_alarm_and_back() -> None:
    store = MetricStore()
    d = dims(EndpointName="ep", EndpointConfigName="green")
    alarm = Alarm("5xx-rate", "Invocation5XXErrors", d, "Sum", threshold=0.01,
                  denominator="Invocations", period_seconds=10, min_samples=5)
    assert alarm.evaluate(store, 100) == AlarmState.INSUFFICIENT_DATA
    for i in range(20):
        store.put("Invocations", 1, d, at=95 + i * 0.1)
        store.put("Invocation5XXErrors", 1 if i == 3 else 0, d, at=95 + i * 0.1)
    assert alarm.evaluate(store, 100) == AlarmState.ALARM
    assert "breached" in alarm.reason
    for i in range(50):
        store.put("Invocations", 1, d, at=111 + i * 0.1)
        store.put("Invocation5XXErrors", 0, d, at=111 + i * 0.1)
    assert alarm.evaluate(store, 116.5) == AlarmState.OK
    assert [state for _, state, _ in alarm.history] == [AlarmState.ALARM, AlarmState.OK]


def test_alarm_definition_is_validated() -> None:
    with pytest.raises(ValidationError, match="statistic"):
        Alarm("x", "m", (), "Median", 1.0)
    with pytest.raises(ValidationError, match="datapoints_to_alarm"):
        Alarm("x", "m", (), "Sum", 1.0, evaluation_periods=1, datapoints_to_alarm=2)


def test_prometheus_text() -> None:
    store = MetricStore()
    store.put("Invocations", 1, dims(EndpointName="ep", VariantName="a"))
    store.put("Invocations", 1, dims(EndpointName="ep", VariantName="a"))
    store.put("ModelLatency", 2.5, dims(EndpointName="ep", VariantName="a"))
    text = store.prometheus(["Invocations"], ["ModelLatency"])
    assert 'podium_invocations_total{endpoint_name="ep",variant_name="a"} 2' in text
    assert 'podium_model_latency_milliseconds{endpoint_name="ep",variant_name="a",quantile="0.99"} 2.5' in text


def test_samples_aggregate_per_second_and_percentiles_stay_within_one_percent() -> None:
    store = MetricStore()
    d = dims(EndpointName="ep")
    values = [0.1 * (i + 1) for i in range(1000)]  # 0.1 .. 100 ms
    store.put_many([("ModelLatency", v, d) for v in values], at=500.2)
    store.put("ModelLatency", 0.0, d, at=501.7)
    window = store.window("ModelLatency", d, 10, now=502)
    assert window.count == 1001 and window.statistic("Minimum") == 0.0
    assert window.statistic("p99") == pytest.approx(99.0, rel=0.01)
    assert window.statistic("p50") == pytest.approx(50.0, rel=0.01)
    assert store.statistic("ModelLatency", d, "SampleCount", 0.5, now=502) == 1  # only second 501
    assert store.total("ModelLatency", d) == pytest.approx(sum(values))


def test_old_buckets_are_dropped_after_retention() -> None:
    store = MetricStore(retention_seconds=100)
    d = dims(EndpointName="ep")
    store.put("Invocations", 1, d, at=1000)
    store.put("Invocations", 1, d, at=1200)
    assert store.statistic("Invocations", d, "Sum", 1000, now=1200) == 1
    assert store.total("Invocations", d) == 2  # totals are lifetime counters


def test_recorder_matches_put_many() -> None:
    names = ("Invocations", "ModelLatency")
    sets = (dims(EndpointName="ep", VariantName="a"), dims(EndpointName="ep"))
    fast, plain = MetricStore(), MetricStore()
    recorder = fast.recorder(names, sets[0], rollups=sets[1:])
    for i, latency in enumerate([0.0, 2.5, 7.0, 40.0]):
        recorder.record((1, latency), at=100.0 + i)
        plain.put_many([(name, value, d) for d in sets for name, value in zip(names, (1, latency), strict=True)],
                       at=100.0 + i)
    for d in sets:
        for statistic in ("Sum", "SampleCount", "Minimum", "Maximum", "p50", "p99"):
            assert fast.statistic("ModelLatency", d, statistic, 10, now=104) == \
                plain.statistic("ModelLatency", d, statistic, 10, now=104)
        assert fast.total("Invocations", d) == plain.total("Invocations", d) == 4
    assert fast.prometheus(["Invocations"], ["ModelLatency"]) == plain.prometheus(["Invocations"], ["ModelLatency"])


def test_rolled_up_series_are_the_sum_of_the_series_rolled_into_them() -> None:
    """Two endpoint configs x two variants recorded once each; every rolled-up series (per
    endpoint, per variant across configs, per config) reads as the sum of its parts, and as a
    store that had every sample put under every dimension set."""
    names = ("Invocations", "Invocation5XXErrors", "ModelLatency")
    fast, plain = MetricStore(), MetricStore()
    leaves = [(config, variant) for config in ("blue", "green") for variant in ("a", "b")]

    def sets(config: str, variant: str) -> tuple[Dimensions, ...]:
        return (dims(EndpointName="ep", EndpointConfigName=config, VariantName=variant), dims(EndpointName="ep"),
                dims(EndpointName="ep", VariantName=variant), dims(EndpointName="ep", EndpointConfigName=config))

    recorders = {leaf: fast.recorder(names, sets(*leaf)[0], rollups=sets(*leaf)[1:]) for leaf in leaves}
    for i in range(40):
        config, variant = leaves[i * 7 % 4]
        values = (1, 1 if i % 5 == 0 else 0, float(1 + i % 9))
        at = 200.0 + i * 0.3
        recorders[(config, variant)].record(values, at=at)
        plain.put_many([(n, v, d) for d in sets(config, variant) for n, v in zip(names, values, strict=True)], at=at)

    def leaf_sum(name: str, statistic: str, keep: Callable[[str, str], bool]) -> float:
        return sum(fast.statistic(name, sets(*leaf)[0], statistic, 60, now=215) or 0.0
                   for leaf in leaves if keep(*leaf))

    rolled = {dims(EndpointName="ep"): lambda c, v: True,
              dims(EndpointName="ep", VariantName="a"): lambda c, v: v == "a",
              dims(EndpointName="ep", EndpointConfigName="green"): lambda c, v: c == "green"}
    for d, keep in rolled.items():
        for name in names:
            for statistic in ("Sum", "SampleCount"):
                assert fast.statistic(name, d, statistic, 60, now=215) == leaf_sum(name, statistic, keep)
            assert fast.total(name, d) == sum(fast.total(name, sets(*leaf)[0]) for leaf in leaves if keep(*leaf))
    assert fast.statistic("Invocations", dims(EndpointName="ep"), "Sum", 60, now=215) == 40
    assert fast.statistic("Invocation5XXErrors", dims(EndpointName="ep"), "Sum", 60, now=215) == 8
    for leaf in leaves:
        for d in sets(*leaf):
            for name in names:
                for statistic in STATISTICS:
                    assert fast.statistic(name, d, statistic, 60, now=215) == \
                        plain.statistic(name, d, statistic, 60, now=215), (name, d, statistic)
    assert sorted(fast.keys()) == sorted(plain.keys())
    fast_changed = {(n, d, s): (b.count, b.total, b.low, b.high, b.histogram) for n, d, s, b in fast.changed()}
    plain_changed = {(n, d, s): (b.count, b.total, b.low, b.high, b.histogram) for n, d, s, b in plain.changed()}
    assert fast_changed == plain_changed
    counters, latencies = ["Invocations", "Invocation5XXErrors"], ["ModelLatency"]
    assert fast.prometheus(counters, latencies) == plain.prometheus(counters, latencies)
