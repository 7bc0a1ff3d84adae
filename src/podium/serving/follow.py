"""Following the routing state router processes commit to a shared metadata store.

Each endpoint row carries its committed routing state (`serving_endpoints.routing`: the fleets
it routes to, their traffic shares and capacities, as Placements) and a `generation` raised with
each change. The process running a deployment commits each traffic shift, then applies it; every
other process notices the new generation within `sync_seconds` and applies the state with its
own workers: it shrinks the fleets that run with less capacity, starts the fleets the state
names (or grows them), routes by it, then drains and stops the fleets it no longer names.

A Follower is part of an EndpointService (podium.serving.endpoints) and works on its fleets; its
sync thread also renews the leases of the deployments the service runs and takes over those
whose owner's lease expired (podium.serving.ownership).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from podium.serving.routing import Placement
from podium.store.tables.serving import serving_endpoints

if TYPE_CHECKING:
    from podium.serving.endpoints import EndpointService

log = logging.getLogger(__name__)

BUSY = ("Creating", "Updating", "RollingBack")  # statuses while a deployment is in progress
FOLLOW_RETRY_SECONDS = 5.0  # after a failed start of fleets another process's change asked for


def fleet_key(config_name: str, deployment_id: int) -> str:
    """The name of a fleet: its config and the deployment that started it."""
    return f"{config_name}@{deployment_id}"


def committed_placements(row: Any) -> list[Placement]:
    """An endpoint row's committed routing state (empty: not serving)."""
    if row.routing is not None:
        return [Placement.from_json(p) for p in row.routing]
    if row.status in ("InService", "Updating", "RollingBack"):  # committed before serving_0004
        return [Placement(fleet_key(row.config_name, 0), row.config_name, 1.0)]
    return []


def commit_routing(conn: Connection, name: str, placements: list[Placement] | None, **values: Any) -> int:
    """Write the endpoint's routing state (and other `values`) and raise its generation; returns
    the new generation, or -1 when the endpoint was deleted."""
    generation = conn.execute(update(serving_endpoints).where(serving_endpoints.c.name == name).values(
        routing=None if placements is None else [p.to_json() for p in placements],
        generation=serving_endpoints.c.generation + 1, updated_at=datetime.now(UTC), **values,
    ).returning(serving_endpoints.c.generation)).scalar_one_or_none()
    return -1 if generation is None else int(generation)


class Follower:
    """The sync thread of an EndpointService, and a thread per endpoint applying a changed
    routing state (so a slow fleet start holds up no other endpoint)."""

    def __init__(self, service: EndpointService, sync_seconds: float) -> None:
        self.service = service
        self.sync_seconds = sync_seconds
        self.serve_all = False  # restore() was called: serve every endpoint, also new ones
        self._thread: threading.Thread | None = None
        self._followers: dict[str, threading.Thread] = {}
        self._retry_at: dict[str, float] = {}
        self._target: dict[str, int] = {}  # endpoint -> generation being applied here
        # endpoint -> why this process still routes by an older routing state than the store's
        self.errors: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        """Start the thread that renews leases and follows the store (once)."""
        service = self.service
        with service._lock:
            if self._thread is not None or service._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._loop, name="podium-endpoint-sync", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait (briefly) for the threads to end once the service is stopping."""
        if self._thread is not None:
            self._thread.join(timeout=5)
        for thread in list(self._followers.values()):
            thread.join(timeout=1)

    def _loop(self) -> None:
        while not self.service._stopping.wait(self.sync_seconds):
            try:
                self.sync()
            except Exception:  # the store was unreachable: tried again next round
                log.exception("following the endpoints' routing state failed")

    def sync(self) -> None:
        """One round: renew the leases of the deployments the service runs, take over those whose
        owner's lease expired, and apply (in a thread per endpoint) every endpoint's routing
        state that changed since this process last applied it."""
        service = self.service
        with service._lock:
            owned = dict(service._owned)
        lost = service.leases.renew([d for d in owned.values() if d is not None])
        if lost:  # taken over: their deployment threads stop at once
            with service._lock:
                service._lost.update(lost)
        with service.store.connect() as conn:
            rows = conn.execute(select(serving_endpoints.c.name, serving_endpoints.c.generation,
                                       serving_endpoints.c.status)).all()
        busy = [r.name for r in rows if r.status in BUSY and r.name not in owned]
        if busy:
            service.leases.take_over_expired(busy, service._runs)
        generations = {r.name: r.generation for r in rows}
        with service._lock:
            changed = [name for name, generation in generations.items()
                       if name not in service._owned and (self.serve_all or name in service._fleets)
                       and service._applied.get(name) != generation]
            changed += [name for name in service._fleets if name not in generations and name not in service._owned]
        for name in changed:
            self._start_follower(name)

    def _start_follower(self, name: str) -> None:
        with self.service._lock:
            thread = self._followers.get(name)
            if (thread is not None and thread.is_alive()) or time.monotonic() < self._retry_at.get(name, 0.0):
                return
            thread = self._followers[name] = threading.Thread(
                target=self.follow_or_retry, args=(name,), name=f"follow-{name}", daemon=True)
        thread.start()

    def follow_or_retry(self, name: str) -> bool:
        """Follow the endpoint; on failure keep routing by the previous state, record why (shown by
        describe_endpoint as FollowErrors) and retry after FOLLOW_RETRY_SECONDS. Returns whether
        the endpoint is served here."""
        try:
            served = self.follow(name)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            generation = self._target.get(name)
            with self.service._lock:
                previous = self.errors.get(name)
                since, attempts = datetime.now(UTC), 1
                if previous is not None and previous["Generation"] == generation:
                    since, attempts = previous["Since"], previous["Attempts"] + 1
                self.errors[name] = {
                    "Process": self.service.owner_id, "Generation": generation, "Error": error,
                    "Since": since, "Attempts": attempts, "RetryInSeconds": FOLLOW_RETRY_SECONDS,
                }
                self._retry_at[name] = time.monotonic() + FOLLOW_RETRY_SECONDS
            # The traceback once per routing state; a retry that fails again gets one line.
            log.warning("endpoint %s: this process could not apply routing state %s (%s); it still routes "
                        "by the previous one and retries in %g s", name, generation, error,
                        FOLLOW_RETRY_SECONDS, exc_info=attempts == 1)
            return False
        with self.service._lock:
            recovered = self.errors.pop(name, None)
        if recovered is not None:
            log.warning("endpoint %s: this process applied routing state %s after %d failed attempt(s)",
                        name, self.service._applied.get(name), recovered["Attempts"])
        return served

    def follow(self, name: str) -> bool:
        with self.service._endpoint_lock(name):
            return self.apply(name)

    def apply(self, name: str) -> bool:
        """Apply the endpoint's committed routing state here (the endpoint's lock held): shrink
        the fleets it runs with less capacity, start the fleets it names (or grow them), route
        by it, then drain and stop the fleets it no longer names, until this process has applied
        the latest generation. Returns whether the endpoint is served here."""
        service = self.service
        while not service._stopping.is_set():
            with service._lock:
                if name in service._owned:  # this process's own deployment routes it
                    return name in service._fleets
            with service.store.connect() as conn:
                row = conn.execute(select(serving_endpoints).where(serving_endpoints.c.name == name)).first()
            generation = -1 if row is None else row.generation
            self._target[name] = generation
            placements = [] if row is None else committed_placements(row)
            wanted = {p.key: p for p in placements}
            with service._lock:
                here = dict(service._fleets.get(name, {}))
                if service._applied.get(name) == generation and set(here) == set(wanted):
                    return bool(placements)
            # Shrunk first, grown after, so the fleets never hold more than the owner's would,
            # even when this process skips states in between; fleets no longer named stop last,
            # once no new request is routed to them.
            for key, running in here.items():
                if key in wanted:
                    running.shrink_to(wanted[key].capacity, service._drain)
            for placement in placements:
                existing = here.get(placement.key)
                if existing is not None:
                    existing.grow_to(placement.capacity)
                    continue
                started = service._provision(name, service._config(placement.config_name), placement.capacity)
                if service._stopping.is_set():  # shut down meanwhile: its fleets are already stopped
                    started.stop(0)
                    return False
                service._add_fleet(name, placement.key, started)
            service._set_routing(name, placements, generation)
            if placements:
                service.metrics.start()
            for key in here:
                if key not in wanted:
                    service._stop_fleet(name, key)
            if row is None:
                with service._lock:
                    if not service._fleets.get(name):
                        service._fleets.pop(name, None)
                        service._applied.pop(name, None)
                return False
        return False
