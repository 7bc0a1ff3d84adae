"""Alarms kept in the metadata store: definitions, state and history survive a new registry
(a restarted server) on the same store, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from podium.errors import NotFoundError
from podium.metrics import Alarm, AlarmState, MetricStore
from podium.metrics.registry import AlarmRegistry
from podium.metrics.series import dims
from podium.store import Store

D = dims(EndpointName="ep", EndpointConfigName="green")


def rate_alarm(threshold: float = 0.1) -> Alarm:
    return Alarm("green-5xx", "Invocation5XXErrors", D, "Sum", threshold=threshold,
                 denominator="Invocations", period_seconds=10, min_samples=5)


def traffic(metrics: MetricStore, start: float, errors: int, total: int = 20) -> None:
    for i in range(total):
        metrics.put("Invocations", 1, D, at=start + i * 0.1)
        metrics.put("Invocation5XXErrors", 1 if i < errors else 0, D, at=start + i * 0.1)


def test_definition_state_and_history_survive_a_restart(any_store: Store) -> None:
    metrics = MetricStore()
    first = AlarmRegistry(any_store)
    first.put(rate_alarm())
    first.put(Alarm("slow", "ModelLatency", dims(EndpointName="ep"), "p99", threshold=50.0))
    traffic(metrics, 95, errors=10)
    [evaluated] = first.evaluate(metrics, ["green-5xx"], now=100)
    assert evaluated.state == AlarmState.ALARM

    second = AlarmRegistry(any_store)  # a new server process on the same store
    assert second.names() == ["green-5xx", "slow"]
    restored = second.get("green-5xx")
    assert restored.state == AlarmState.ALARM and "breached" in restored.reason
    assert (restored.metric, restored.denominator, restored.dimensions, restored.threshold) == (
        "Invocation5XXErrors", "Invocations", D, 0.1)
    assert second.get("slow").statistic == "p99"
    # The new process's metrics are healthy: the alarm goes back to OK and that is recorded too.
    fresh = MetricStore()
    traffic(fresh, 195, errors=0)
    second.evaluate(fresh, now=200)
    states = [entry["StateValue"] for entry in AlarmRegistry(any_store).history("green-5xx")]
    assert states == ["INSUFFICIENT_DATA", "ALARM", "OK"]


def test_unchanged_put_keeps_state_changed_put_resets_it(any_store: Store) -> None:
    registry, metrics = AlarmRegistry(any_store), MetricStore()
    registry.put(rate_alarm())
    traffic(metrics, 95, errors=10)
    registry.evaluate(metrics, now=100)
    assert registry.put(rate_alarm()).state == AlarmState.ALARM
    changed = registry.put(rate_alarm(threshold=0.9))
    assert changed.state == AlarmState.INSUFFICIENT_DATA and changed.reason == "alarm definition updated"
    assert AlarmRegistry(any_store).get("green-5xx").threshold == 0.9


def test_alarms_put_elsewhere_are_seen_and_deleted_ones_are_gone(store: Store) -> None:
    here = AlarmRegistry(store, refresh_seconds=0)
    elsewhere = AlarmRegistry(store)
    assert here.missing(["green-5xx"]) == ["green-5xx"]
    elsewhere.put(rate_alarm())
    assert here.missing(["green-5xx", "other"]) == ["other"]
    here.delete("green-5xx")
    assert AlarmRegistry(store).names() == []
    with pytest.raises(NotFoundError, match="green-5xx"):
        here.delete("green-5xx")
    with pytest.raises(NotFoundError, match="green-5xx"):
        here.history("green-5xx")
