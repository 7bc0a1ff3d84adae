"""Metrics shared by router processes through the metadata store (SQLite and PostgreSQL): an
alarm sees the traffic of every process, each sample counted once; old rows are pruned; the
table's migration keeps the rows already in the store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, text

from podium.metrics import Alarm, AlarmState, MetricStore
from podium.metrics.registry import AlarmRegistry
from podium.metrics.series import dims
from podium.metrics.shared import SharedMetrics
from podium.store import Store, migrate
from podium.store.tables import metadata
from podium.store.tables.serving import serving_alarms, serving_metric_buckets

D = dims(EndpointName="ep", EndpointConfigName="green")


def rate_alarm() -> Alarm:
    return Alarm("green-5xx", "Invocation5XXErrors", D, "Sum", threshold=0.1, denominator="Invocations",
                 period_seconds=10, min_samples=5)


def traffic(metrics: MetricStore, calls: int, errors: int, at: float | None = None) -> None:
    for i in range(calls):
        metrics.put_many([("Invocations", 1, D), ("Invocation5XXErrors", 1 if i < errors else 0, D)], at)


def test_changed_hands_out_each_change_once_with_the_whole_bucket() -> None:
    clock = [1000.2]
    metrics = MetricStore(clock=lambda: clock[0])
    traffic(metrics, 3, 1)
    first = {(name, second): bucket.count for name, _, second, bucket in metrics.changed()}
    assert first == {("Invocations", 1000): 3, ("Invocation5XXErrors", 1000): 3}
    assert metrics.changed() == []
    traffic(metrics, 2, 2)  # the same second again: handed out again, whole
    again = {name: (bucket.count, bucket.total) for name, _, _, bucket in metrics.changed()}
    assert again == {"Invocations": (5, 5.0), "Invocation5XXErrors": (5, 3.0)}
    clock[0] = 1010.0
    traffic(metrics, 1, 1, at=990.5)  # a time given by the caller, before the last scan
    assert {(name, second) for name, _, second, _ in metrics.changed()} == {
        ("Invocations", 990), ("Invocation5XXErrors", 990)}
    recorder = metrics.recorder(("Invocations",), D)
    recorder.record((1,), at=995.0)
    assert [(name, second) for name, _, second, _ in metrics.changed()] == [("Invocations", 995)]


def test_alarm_trips_on_errors_only_another_process_saw(any_store: Store) -> None:
    here, there = MetricStore(), MetricStore()  # two router processes on one store
    shared_here = SharedMetrics(any_store, here, refresh_seconds=0)
    shared_there = SharedMetrics(any_store, there, refresh_seconds=0)
    registry = AlarmRegistry(any_store)
    registry.put(rate_alarm())
    traffic(here, 20, 0)
    shared_here.flush()
    now = time.time()
    [alarm] = registry.evaluate(shared_here, now=now)
    assert alarm.state == AlarmState.OK  # only healthy traffic so far
    traffic(there, 20, 20)
    [alarm] = registry.evaluate(shared_here, now=now)
    assert alarm.state == AlarmState.OK  # not published yet
    assert shared_there.flush() == 2
    now = time.time()
    [alarm] = registry.evaluate(shared_here, now=now)
    assert alarm.state == AlarmState.ALARM, alarm.reason
    # Each process's own buckets come from memory and its published rows are skipped: every
    # invocation counts once, seen from either side.
    for view in (shared_here, shared_there):
        assert view.statistic("Invocations", D, "Sum", 60, now) == 40
        assert view.statistic("Invocation5XXErrors", D, "Sum", 60, now) == 20
    # A single process's store still sees only its own traffic.
    assert here.statistic("Invocation5XXErrors", D, "Sum", 60, now) == 0


def test_a_real_second_process_trips_the_alarm(any_store: Store) -> None:
    url = any_store.engine.url.render_as_string(hide_password=False)
    here = MetricStore()
    shared = SharedMetrics(any_store, here, refresh_seconds=0.1)
    registry = AlarmRegistry(any_store)
    registry.put(rate_alarm())
    traffic(here, 20, 0)
    assert registry.evaluate(shared)[0].state == AlarmState.OK
    child = textwrap.dedent(f"""
        import time
        from podium.metrics import MetricStore
        from podium.metrics.series import dims
        from podium.metrics.shared import SharedMetrics
        from podium.store import open_store

        store = open_store({url!r})
        metrics = MetricStore()
        shared = SharedMetrics(store, metrics, flush_seconds=0.2)
        shared.start()
        d = dims(EndpointName="ep", EndpointConfigName="green")
        for _ in range(20):
            metrics.put_many([("Invocations", 1, d), ("Invocation5XXErrors", 1, d)])
            time.sleep(0.01)
        time.sleep(1.0)  # published by the background thread, not by close()
        print("published", flush=True)
        time.sleep(30)
    """)
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "published"
        deadline = time.monotonic() + 10
        state = AlarmState.OK
        while state != AlarmState.ALARM and time.monotonic() < deadline:
            state = registry.evaluate(shared)[0].state
            time.sleep(0.05)
        assert state == AlarmState.ALARM
        assert shared.statistic("Invocations", D, "Sum", 60) == 40
    finally:
        process.kill()
        process.wait(10)


def test_background_flush_publishes_and_close_flushes_the_rest(any_store: Store) -> None:
    metrics = MetricStore()
    shared = SharedMetrics(any_store, metrics, flush_seconds=0.05)
    shared.start()
    traffic(metrics, 5, 1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and published(any_store) < 10:
        time.sleep(0.02)
    traffic(metrics, 5, 0)
    shared.close()
    other = SharedMetrics(any_store, MetricStore())
    assert other.statistic("Invocations", D, "Sum", 60) == 10
    assert other.statistic("Invocation5XXErrors", D, "Average", 60) == 0.1


def published(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(serving_metric_buckets.c.count), 0))).scalar_one())


def test_histograms_merge_into_percentiles_across_processes(any_store: Store) -> None:
    now = time.time()
    fast, slow = MetricStore(), MetricStore()
    for i in range(90):
        fast.put("ModelLatency", 1.0 + i / 100, D, now)
    for _ in range(10):
        slow.put("ModelLatency", 500.0, D, now)
    SharedMetrics(any_store, slow).flush()
    view = SharedMetrics(any_store, fast)
    assert view.statistic("ModelLatency", D, "SampleCount", 60, now) == 100
    assert view.statistic("ModelLatency", D, "Maximum", 60, now) == 500.0
    assert abs(view.statistic("ModelLatency", D, "p99", 60, now) - 500.0) < 5.0  # type: ignore[operator]
    assert view.statistic("ModelLatency", D, "p50", 60, now) < 2.0  # type: ignore[operator]


def test_rows_older_than_the_retention_are_pruned(any_store: Store) -> None:
    clock = [10_000.0]
    old = MetricStore(clock=lambda: clock[0])
    traffic(old, 3, 0)
    SharedMetrics(any_store, old).flush()
    clock[0] += 120
    later = MetricStore(clock=lambda: clock[0])
    traffic(later, 2, 0)
    assert SharedMetrics(any_store, later, keep_seconds=60).flush() == 2  # its first flush prunes too
    with any_store.connect() as conn:
        seconds = set(conn.scalars(select(serving_metric_buckets.c.second)))
    assert seconds == {10_120}


def test_migration_adds_the_table_and_keeps_existing_rows(any_store: Store) -> None:
    engine = any_store.engine
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(engine, "serving_0002")
    with any_store.begin() as connection:
        connection.execute(insert(serving_alarms).values(
            name="kept", definition={"MetricName": "Invocations"}, state="OK", reason="r",
            updated_at=datetime.now(UTC)))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) == migrate.head_revisions()  # serving_0003 and later
        assert connection.execute(select(serving_alarms.c.name)).scalars().all() == ["kept"]
    metrics = MetricStore()
    traffic(metrics, 2, 0)
    assert SharedMetrics(any_store, metrics).flush() == 2
