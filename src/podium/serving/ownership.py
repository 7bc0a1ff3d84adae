"""Deployment ownership: the router process running a deployment holds a lease on it.

A deployment (an endpoint's creation or update) row names its `owner` and holds `lease_until`
(wall-clock seconds). The owner renews the lease every `renew_seconds` (from the sync thread,
podium.serving.follow) and with every routing state it commits for the deployment (`hold`, in
the same transaction), so what an owner commits is fenced by its lease: once another process
took the deployment over, the owner's next commit raises LeaseLost and it stops deploying.

Only a deployment whose lease expired (its process was killed or hung for `lease_seconds`) is
taken over, by the first process to see it: a conditional update on the lease lets one process
win. A creation fails; an update whose traffic had all moved to green is recorded as succeeded;
any other update is rolled back to blue at its full size and recorded as failed.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection

from podium.serving.follow import commit_routing, committed_placements, fleet_key
from podium.serving.routing import Placement
from podium.store import Store
from podium.store.tables.serving import (
    serving_deployment_events,
    serving_deployments,
    serving_endpoints,
)

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This process no longer owns the deployment it runs: its lease expired and another process
    took the deployment over, or the service is shutting down."""


def new_owner_id() -> str:
    """Who holds a lease: unique per process and service (host, pid, random suffix)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


class Leases:
    """The leases of the deployments `owner_id` runs on `store`, and the take-over of those
    whose owner's lease expired."""

    def __init__(self, store: Store, lease_seconds: float, renew_seconds: float,
                 owner_id: str | None = None) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.owner_id = owner_id or new_owner_id()
        self._renewed_at = 0.0

    def _mine(self, ids: Collection[int]) -> tuple[Any, ...]:
        """The condition for deployments among `ids` still in progress under this process's lease."""
        return (serving_deployments.c.id.in_(ids), serving_deployments.c.owner == self.owner_id,
                serving_deployments.c.outcome == "InProgress")

    def insert_deployment(self, conn: Connection, name: str, from_config: str | None, to_config: str,
                          policy: dict[str, Any]) -> int:
        """Record a deployment of endpoint `name` owned by this process, its lease starting now."""
        inserted = conn.execute(insert(serving_deployments).values(
            endpoint=name, from_config=from_config, to_config=to_config, policy=policy, outcome="InProgress",
            started_at=_now(), owner=self.owner_id,
            lease_until=time.time() + self.lease_seconds)).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    def hold(self, conn: Connection, deployment_id: int) -> None:
        """Renew this process's lease on the deployment in `conn`'s transaction, or raise
        LeaseLost: the rest of the transaction commits only while the lease is held."""
        held = conn.execute(update(serving_deployments).where(*self._mine([deployment_id]))
                            .values(lease_until=time.time() + self.lease_seconds)).rowcount
        if held != 1:
            raise LeaseLost(f"deployment {deployment_id} was taken over by another process (its lease expired)")

    def renew(self, ids: Collection[int]) -> set[int]:
        """Renew the leases on deployments `ids` if `renew_seconds` passed since the last renewal;
        returns those this process no longer holds (taken over meanwhile)."""
        now = time.time()
        if not ids or now - self._renewed_at < self.renew_seconds:
            return set()
        held = self._mine(ids)
        lost: set[int] = set()
        with self.store.begin() as conn:
            renewed = conn.execute(update(serving_deployments).where(*held)
                                   .values(lease_until=now + self.lease_seconds)).rowcount
            if renewed != len(ids):
                lost = set(ids) - set(conn.scalars(select(serving_deployments.c.id).where(*held)))
        self._renewed_at = now
        return lost

    def release(self, ids: Collection[int]) -> None:
        """Give up the leases on deployments `ids` (at shutdown), so another process takes them
        over at once instead of after the lease."""
        with self.store.begin() as conn:
            conn.execute(update(serving_deployments).where(*self._mine(ids)).values(lease_until=0.0))

    def take_over_expired(self, names: list[str] | None, runs: Callable[[str, int], bool]) -> None:
        """Take over every in-progress deployment (of endpoints `names`, or of any endpoint) whose
        lease expired, except those `runs(endpoint, deployment_id)` says this process runs. A
        deployment from before leases (no lease) counts as expired."""
        now = time.time()
        with self.store.connect() as conn:
            query = select(serving_deployments).where(
                serving_deployments.c.outcome == "InProgress",
                or_(serving_deployments.c.lease_until.is_(None), serving_deployments.c.lease_until < now))
            if names is not None:
                query = query.where(serving_deployments.c.endpoint.in_(names))
            rows = conn.execute(query.order_by(serving_deployments.c.id)).all()
        for row in rows:
            if not runs(row.endpoint, row.id):
                self.take_over(row)

    def take_over(self, deployment: Any) -> bool:
        """Finish a deployment its owner abandoned (see the module docstring) and commit the
        endpoint's routing state accordingly. Returns False when another process took it over,
        or the owner renewed its lease, first."""
        who = f"the router process running it ({deployment.owner})" if deployment.owner else "the server"
        lease = (serving_deployments.c.lease_until.is_(None) if deployment.lease_until is None
                 else serving_deployments.c.lease_until == deployment.lease_until)
        with self.store.begin() as conn:
            endpoint = conn.execute(select(serving_endpoints)
                                    .where(serving_endpoints.c.name == deployment.endpoint)).first()
            values: dict[str, Any]
            placements: list[Placement] | None
            if deployment.from_config is None:
                outcome, reason = "Failed", f"{who} stopped while the endpoint was being created"
                placements, values = None, {"status": "Failed", "failure_reason": reason}
                kind, detail = "DeploymentFailed", reason
            else:
                current = committed_placements(endpoint) if endpoint is not None else []
                green = fleet_key(deployment.to_config, deployment.id)
                if [(p.key, p.share, p.capacity) for p in current] == [(green, 1.0, 1.0)]:
                    outcome, reason = "Succeeded", None
                    placements = current
                    values = {"status": "InService", "failure_reason": None, "config_name": deployment.to_config}
                    kind, detail = "TakenOver", f"{who} stopped while stopping blue; all traffic was on green"
                else:
                    reason = f"{who} stopped during the deployment (its lease expired); serving the last good config"
                    outcome = "Failed"
                    blue = next((p for p in current if p.key != green),
                                Placement(fleet_key(deployment.from_config, 0), deployment.from_config, 1.0))
                    placements = [replace(blue, share=1.0, capacity=1.0)]
                    values = {"status": "InService", "failure_reason": reason, "config_name": deployment.from_config}
                    kind, detail = "RolledBack", f"taken over: {reason}; all traffic on blue"
            claimed = conn.execute(
                update(serving_deployments)
                .where(serving_deployments.c.id == deployment.id, serving_deployments.c.outcome == "InProgress",
                       lease)
                .values(outcome=outcome, reason=reason, ended_at=_now(), owner=self.owner_id, lease_until=None)
            ).rowcount
            if claimed != 1:
                return False
            conn.execute(insert(serving_deployment_events).values(
                deployment_id=deployment.id, time=_now(), kind=kind, green_share=0.0 if outcome == "Failed" else 1.0,
                detail=detail))
            if endpoint is not None:
                commit_routing(conn, deployment.endpoint, placements, **values)
        log.warning("took over deployment %s of endpoint %s: %s", deployment.id, deployment.endpoint, detail)
        return True
