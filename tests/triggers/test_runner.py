"""The scheduler loop fires a real-time schedule within about a second."""

import threading
import time
from datetime import UTC, datetime, timedelta

from podium.triggers.runner import run_scheduler
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import TargetRegistry


def test_loop_fires_on_time_and_stops(store):
    fired: list[float] = []
    targets = TargetRegistry()
    targets.register("note", lambda payload: fired.append(time.time()))
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    Scheduler(store, targets).create("soon", f"at({due:%Y-%m-%dT%H:%M:%S})", "note")
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(store, targets, stop), kwargs={"interval": 0.2})
    thread.start()
    deadline = time.time() + 10
    while not fired and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(fired) == 1
    assert 0 <= fired[0] - due.timestamp() < 1.5
