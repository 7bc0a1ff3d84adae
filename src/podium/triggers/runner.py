"""The scheduler loop that `podium scheduler` and `podium server` run: tick once a second.

Every tick claims due schedule fires and delivers every due delivery, schedule fires and
matched events alike. Any number of these loops may run against one PostgreSQL store.
"""

from __future__ import annotations

import logging
import threading
import time

from podium.errors import PodiumError
from podium.store import Store
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import TargetRegistry

log = logging.getLogger(__name__)


def run_scheduler(
    store: Store,
    targets: TargetRegistry,
    stop: threading.Event,
    *,
    interval: float = 1.0,
) -> int:
    """Tick until `stop` is set; returns the number of ticks. A failing tick (a database
    restarting, say) is logged and retried on the next one rather than ending the loop."""
    scheduler = Scheduler(store, targets)
    ticks = 0
    while not stop.is_set():
        try:
            scheduler.tick()
        except (PodiumError, OSError, RuntimeError) as exc:
            log.warning("scheduler tick failed, retrying: %s", exc)
        except Exception as exc:  # SQLAlchemy errors and the like: keep the loop alive
            log.exception("scheduler tick failed, retrying: %s", exc)
        ticks += 1
        # Wake on the interval grid so fires due at :00 are seen right after :00.
        now = time.time()
        stop.wait(interval - (now % interval))
    return ticks
