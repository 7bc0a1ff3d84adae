"""The scheduler loop that `podium scheduler` and `podium server` run: tick once a second.

Every tick publishes the events Podium's services recorded (the outbox, so their rule
deliveries are queued), claims due schedule fires, and delivers every due delivery,
schedule fires and matched events alike. Every `watch_interval` seconds it also polls the
stored folder watches (listing a large lake location every second would cost too much). Any number of these loops may run against one
PostgreSQL store. Every `purge_interval` seconds it deletes finished delivery rows older than
`delivery_retention_seconds` (a few small batches at a time, so a tick stays short); None
keeps them forever.
"""

from __future__ import annotations

import logging
import threading
import time

from podium.errors import PodiumError
from podium.store import Store
from podium.triggers.bus import EventBus
from podium.triggers.delivery import DEFAULT_RETENTION_SECONDS, purge_finished
from podium.triggers.outbox import OutboxPublisher
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import TargetRegistry
from podium.triggers.watch import poll_watches

log = logging.getLogger(__name__)


def run_scheduler(
    store: Store,
    targets: TargetRegistry,
    stop: threading.Event,
    *,
    interval: float = 1.0,
    publish_events: bool = True,
    watch_interval: float = 10.0,
    delivery_retention_seconds: float | None = DEFAULT_RETENTION_SECONDS,
    purge_interval: float = 60.0,
    purge_batch_size: int = 500,
    purge_max_batches: int = 4,
) -> int:
    """Tick until `stop` is set; returns the number of ticks. A failing tick (a database
    restarting, say) is logged and retried on the next one rather than ending the loop.
    With `publish_events`, each tick first moves Podium's own events onto the bus and polls
    the folder watches that are due."""
    scheduler = Scheduler(store, targets)
    bus = EventBus(store, targets, dispatcher=scheduler.dispatcher)
    publisher = OutboxPublisher(bus) if publish_events else None
    next_watch = 0.0
    next_purge = time.monotonic() + purge_interval
    ticks = 0
    while not stop.is_set():
        try:
            if publisher is not None:
                if time.monotonic() >= next_watch:
                    next_watch = time.monotonic() + watch_interval
                    poll_watches(bus)
                publisher.publish()
            scheduler.tick()
            if delivery_retention_seconds is not None and time.monotonic() >= next_purge:
                next_purge = time.monotonic() + purge_interval
                purge_finished(
                    store,
                    delivery_retention_seconds,
                    batch_size=purge_batch_size,
                    max_batches=purge_max_batches,
                    lease_seconds=scheduler.dispatcher.lease_seconds,
                )
        except (PodiumError, OSError, RuntimeError) as exc:
            log.warning("scheduler tick failed, retrying: %s", exc)
        except Exception as exc:  # SQLAlchemy errors and the like: keep the loop alive
            log.exception("scheduler tick failed, retrying: %s", exc)
        ticks += 1
        # Wake on the interval grid so fires due at :00 are seen right after :00.
        now = time.time()
        stop.wait(interval - (now % interval))
    return ticks
