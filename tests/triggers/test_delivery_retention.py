"""Retention of finished delivery rows: purged in batches once old enough; pending and
running rows, recent rows and dead letters are kept."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from podium.errors import ValidationError
from podium.store.tables.triggers import triggers_dead_letters, triggers_deliveries
from podium.triggers.bus import EventBus
from podium.triggers.delivery import purge_finished
from podium.triggers.runner import run_scheduler
from podium.triggers.targets import TargetRegistry

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
EVENT = {"source": "podium.lake", "detail-type": "Object Created", "detail": {}}


def broken(payload):
    raise ConnectionError("down")


def make_bus(store) -> tuple[EventBus, TargetRegistry]:
    targets = TargetRegistry()
    targets.register("ok", lambda payload: None)
    targets.register("broken", broken)
    bus = EventBus(store, targets)
    bus.put_rule("fine", {"source": ["podium.lake"]}, [{"id": "t", "target": "ok"}])
    bus.put_rule("dies", {"source": ["podium.lake"]},
                 [{"id": "t", "target": "broken", "max_retry_attempts": 0}])
    bus.put_rule("retries", {"source": ["podium.lake"]},
                 [{"id": "t", "target": "broken", "max_retry_attempts": 100}])
    return bus, targets


def statuses(store) -> list[tuple[str, str]]:
    d = triggers_deliveries
    with store.connect() as connection:
        rows = connection.execute(select(d.c.origin_name, d.c.status, d.c.created_at)).all()
    return sorted((row.origin_name, row.status, row.created_at) for row in rows)


def test_purge_keeps_recent_and_unfinished_rows(any_store):
    bus, _ = make_bus(any_store)
    bus.put_events([EVENT], now=T0)
    bus.dispatch(T0)  # fine: succeeded, dies: dead, retries: pending
    later = T0 + timedelta(hours=3)
    bus.put_events([EVENT], now=later)
    bus.dispatch(later)
    assert len(statuses(any_store)) == 6

    purged = bus.purge_deliveries(timedelta(hours=1), now=later, batch_size=1)

    assert purged == 2
    left = [(name, status) for name, status, created in statuses(any_store)]
    assert sorted(left) == sorted([
        ("dies", "dead"), ("fine", "succeeded"), ("retries", "pending"), ("retries", "pending"),
    ])
    assert all(created == later.timestamp() or status == "pending"
               for _, status, created in statuses(any_store))
    with any_store.connect() as connection:  # dead letters are a separate record, kept
        assert len(connection.execute(select(triggers_dead_letters)).all()) == 2
    assert bus.purge_deliveries(3600.0, now=later) == 0  # nothing more is old enough


def test_retention_shorter_than_the_lease_is_refused(store):
    bus, _ = make_bus(store)
    with pytest.raises(ValidationError, match="lease"):
        bus.purge_deliveries(timedelta(seconds=60))
    with pytest.raises(ValidationError, match="batch_size"):
        purge_finished(store, 3600, batch_size=0)


def test_max_batches_bounds_one_purge(store):
    bus, _ = make_bus(store)
    for _ in range(3):
        bus.put_events([EVENT], now=T0)
    bus.dispatch(T0)  # six finished rows, three pending
    later = (T0 + timedelta(days=2)).timestamp()
    assert purge_finished(store, 86_400, now=later, batch_size=2, max_batches=2) == 4
    assert purge_finished(store, 86_400, now=later, batch_size=2) == 2
    assert [status for _, status, _ in statuses(store)] == ["pending"] * 3


def test_scheduler_loop_purges_old_finished_rows(store):
    bus, targets = make_bus(store)
    bus.put_events([EVENT], now=T0)  # T0 lies far in the past of the wall clock
    bus.dispatch(T0)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(store, targets, stop),
        kwargs={"interval": 0.1, "publish_events": False, "purge_interval": 0.0,
                "delivery_retention_seconds": 86_400.0},
    )
    thread.start()
    deadline = time.time() + 10
    while time.time() < deadline and len(statuses(store)) > 1:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    # The two rows finished at T0 went; the retried one ran out of event age in the loop
    # just now, so it finished too recently to go.
    assert [(name, status) for name, status, _ in statuses(store)] == [("retries", "dead")]
