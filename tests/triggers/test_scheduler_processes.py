"""Two scheduler processes on PostgreSQL, one killed with SIGKILL mid-way: every fire is
recorded exactly once, none is missed, and every target effect happens once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from podium.store.tables.triggers import triggers_fires, triggers_recorded
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import RecordTarget, TargetRegistry

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SCHEDULES = 10
MINUTES = 12

WORKER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    from podium.store import open_store
    from podium.triggers.scheduler import Scheduler
    from podium.triggers.targets import RecordTarget, TargetRegistry

    url, minutes, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    store = open_store(url)
    targets = TargetRegistry()
    targets.register("rec", RecordTarget(store, "rec"))
    scheduler = Scheduler(store, targets, batch_size=5)
    scheduler.dispatcher.batch_size = 5
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    print("ready", flush=True)
    for minute in range(minutes):
        scheduler.tick(t0 + timedelta(minutes=minute, seconds=1))
        time.sleep(pause)
    print("done", flush=True)
    """
)


@pytest.mark.postgres
@pytest.mark.slow
def test_killed_scheduler_process_loses_and_doubles_nothing(pg_store, pg_url, tmp_path: Path):
    targets = TargetRegistry()
    targets.register("rec", RecordTarget(pg_store, "rec"))
    scheduler = Scheduler(pg_store, targets)
    for i in range(SCHEDULES):
        scheduler.create(f"s{i:02d}", "cron(* * * * ? *)", "rec", missed_fire_policy="all", now=T0)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(pause: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(script), pg_url, str(MINUTES), pause],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )

    victim, survivor = start("0.05"), start("0.08")
    for process in (victim, survivor):
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.stderr.read() if process.stderr else ""
    time.sleep(0.3)  # both are claiming and delivering now
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert victim.returncode == -signal.SIGKILL

    # Whatever the victim held (locks, leased deliveries) is picked up once its lease ends.
    finish = T0 + timedelta(minutes=MINUTES - 1, seconds=1)
    scheduler.dispatcher.dispatch((finish + timedelta(minutes=10)).timestamp())

    with pg_store.connect() as connection:
        fires = connection.execute(
            select(triggers_fires.c.schedule, triggers_fires.c.scheduled_time, triggers_fires.c.status)
        ).all()
        recorded = connection.execute(
            select(triggers_recorded.c.idempotency_key, func.count())
            .group_by(triggers_recorded.c.idempotency_key)
        ).all()
    expected = {
        (f"s{i:02d}", (T0 + timedelta(minutes=m)).timestamp())
        for i in range(SCHEDULES)
        for m in range(MINUTES)
    }
    assert len(fires) == len(expected)
    assert {(f.schedule, f.scheduled_time) for f in fires} == expected
    assert {f.status for f in fires} == {"succeeded"}
    assert len(recorded) == len(expected) and {count for _, count in recorded} == {1}
