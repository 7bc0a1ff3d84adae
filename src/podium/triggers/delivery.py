"""Delivery of payloads to targets: durable, at-least-once, with retries and a dead-letter table.

Schedule fires and matched events both become rows in `triggers_deliveries`, written in
the same transaction as the fire record or archived event that caused them, so nothing a
caller was told about is lost. `Dispatcher.dispatch(now)` claims due rows (FOR UPDATE
SKIP LOCKED on PostgreSQL, the single-writer lock on SQLite) under a lease, invokes the
targets outside any transaction, and writes all outcomes back in one transaction. A
process that dies mid-way leaves rows whose lease runs out; they are claimed again.
A failed attempt is retried with the target's back-off until its retry count or maximum
event age runs out; then the payload goes to `triggers_dead_letters` with the reason and,
when the schedule or rule target names a `dead_letter` target (EventBridge's DeadLetterConfig,
typically `stream:NAME`), a delivery of the failure to that target is queued in the same
transaction (origin `dead-letter`; its own failure is only recorded in the table).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from podium.errors import NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.triggers import (
    triggers_dead_letters,
    triggers_deliveries,
    triggers_fires,
)
from podium.triggers.retry import RetryPolicy
from podium.triggers.targets import Invocation, TargetRegistry

DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_RETENTION_SECONDS = 7 * 86_400.0  # finished delivery rows are kept a week
FINISHED_STATUSES = ("succeeded", "dead")


@dataclass(frozen=True)
class DeliveryRequest:
    """What to deliver: built by the scheduler or the event bus, enqueued in their transaction."""

    origin: str  # "schedule" | "rule"
    origin_name: str
    target: str
    payload: Any
    idempotency_key: str
    policy: RetryPolicy
    fire_id: int | None = None
    dead_letter: str | None = None  # target that receives the failure if it dies


def _attempt_payload(row: Any, attempt: int) -> Any:
    """The stored payload; a schedule's gets its per-attempt context attributes."""
    text: str = row.payload
    if row.origin == "schedule" and "<aws.scheduler." in text:
        execution = hashlib.sha256(f"{row.idempotency_key}|{attempt}".encode()).hexdigest()[:16]
        text = text.replace("<aws.scheduler.execution-id>", execution).replace(
            "<aws.scheduler.attempt-number>", str(attempt)
        )
    return json.loads(text)


@dataclass
class DispatchReport:
    succeeded: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        return self.succeeded + self.retrying + self.dead


def enqueue(connection: Connection, requests: list[DeliveryRequest], now: float) -> None:
    """Insert deliveries inside the caller's transaction; duplicates of an idempotency key
    violate a unique constraint (the caller's transaction then fails as a whole)."""
    if not requests:
        return
    connection.execute(
        insert(triggers_deliveries),
        [
            {
                "origin": r.origin,
                "origin_name": r.origin_name,
                "target": r.target,
                "payload": json.dumps(r.payload),
                "idempotency_key": r.idempotency_key,
                "fire_id": r.fire_id,
                "dead_letter": r.dead_letter,
                "status": "pending",
                "attempts": 0,
                "max_retry_attempts": r.policy.max_retry_attempts,
                "max_event_age_seconds": r.policy.max_event_age_seconds,
                "created_at": now,
                "next_attempt_at": now,
                "lease_until": None,
                "last_error": None,
                "finished_at": None,
            }
            for r in requests
        ],
    )


@dataclass(frozen=True)
class _Outcome:
    """What one delivery attempt came to."""

    row: Any  # the claimed triggers_deliveries row
    attempt: int
    at: float
    status: str  # succeeded | pending (to retry) | dead
    reason: str | None = None  # why it is dead
    error: str | None = None
    next_attempt_at: float | None = None


class Dispatcher:
    def __init__(
        self,
        store: Store,
        targets: TargetRegistry,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        batch_size: int = 1000,
        backoff: RetryPolicy | None = None,
    ) -> None:
        self.store = store
        self.targets = targets
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        # Only the delay shape is taken from here; counts and ages come from each delivery.
        self.backoff = backoff or RetryPolicy()

    def dispatch(self, now: float | None = None) -> DispatchReport:
        """Deliver everything due at `now` (epoch seconds; default: the wall clock)."""
        report = DispatchReport()
        base = time.time() if now is None else now
        started = time.monotonic()
        while True:
            claimed = self._claim(base + time.monotonic() - started)
            if not claimed:
                return report
            outcomes = [self._attempt(row, base + time.monotonic() - started) for row in claimed]
            self._record(outcomes, report)
            if len(claimed) < self.batch_size:
                return report

    def _claim(self, now: float) -> list[Any]:
        t = triggers_deliveries
        due = or_(
            and_(t.c.status == "pending", t.c.next_attempt_at <= now),
            and_(t.c.status == "running", t.c.lease_until < now),
        )
        query = select(t).where(due).order_by(t.c.next_attempt_at, t.c.id).limit(self.batch_size)
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with self.store.begin() as connection:
            rows = connection.execute(query).all()
            if rows:
                connection.execute(
                    update(t)
                    .where(t.c.id.in_([row.id for row in rows]))
                    .values(
                        status="running",
                        lease_until=now + self.lease_seconds,
                        attempts=t.c.attempts + 1,
                    )
                )
        return list(rows)

    def _attempt(self, row: Any, now: float) -> _Outcome:
        attempt = row.attempts + 1
        if now - row.created_at > row.max_event_age_seconds:
            return _Outcome(row, attempt, now, "dead", "max-age-exceeded",
                            f"not delivered within {row.max_event_age_seconds} s")
        try:
            target = self.targets.get(row.target)
        except NotFoundError as exc:
            return _Outcome(row, attempt, now, "dead", "target-not-found", exc.message)
        invocation = Invocation(
            payload=_attempt_payload(row, attempt),
            idempotency_key=row.idempotency_key,
            origin=row.origin,
            origin_name=row.origin_name,
            attempt=attempt,
        )
        try:
            target.invoke(invocation)
        except Exception as exc:  # a target's failure is data here: it is retried or dead-lettered
            error = f"{type(exc).__name__}: {exc}"
            if attempt > row.max_retry_attempts:
                return _Outcome(row, attempt, now, "dead", "retries-exhausted", error)
            retry_at = now + self.backoff.delay(attempt, row.idempotency_key)
            if retry_at - row.created_at > row.max_event_age_seconds:
                return _Outcome(row, attempt, now, "dead", "max-age-exceeded", error)
            return _Outcome(row, attempt, now, "pending", None, error, retry_at)
        return _Outcome(row, attempt, now, "succeeded")

    def _forward_dead_letter(self, connection: Connection, o: _Outcome) -> None:
        """Queue the failure to the delivery's dead-letter target: the original payload with
        what EventBridge puts in a DLQ message's attributes."""
        request = DeliveryRequest(
            origin="dead-letter",
            origin_name=o.row.origin_name,
            target=o.row.dead_letter,
            payload={
                "payload": json.loads(o.row.payload),
                "origin": o.row.origin,
                "origin_name": o.row.origin_name,
                "target": o.row.target,
                "reason": o.reason,
                "error": o.error,
                "attempts": o.attempt,
                "failed_at": o.at,
            },
            idempotency_key=f"dead-letter:{o.row.idempotency_key}",
            policy=RetryPolicy(),
        )
        try:
            with connection.begin_nested():
                enqueue(connection, [request], o.at)
        except IntegrityError:
            pass  # forwarded already by a dispatcher that re-claimed this delivery

    def _record(self, outcomes: list[_Outcome], report: DispatchReport) -> None:
        t = triggers_deliveries
        f = triggers_fires
        delivery_rows = [
            {
                "b_id": o.row.id,
                "b_attempts": o.attempt,
                "b_status": o.status,
                "b_error": o.error,
                "b_next": o.next_attempt_at if o.next_attempt_at is not None else o.at,
                "b_finished": o.at if o.status in ("succeeded", "dead") else None,
            }
            for o in outcomes
        ]
        fire_rows = [
            {
                "b_fire": o.row.fire_id,
                "b_at": o.at,
                "b_status": {"succeeded": "succeeded", "dead": "failed"}.get(o.status, "retrying"),
                "b_error": o.error,
            }
            for o in outcomes
            if o.row.fire_id is not None
        ]
        dead_rows = [
            {
                "delivery_id": o.row.id,
                "origin": o.row.origin,
                "origin_name": o.row.origin_name,
                "target": o.row.target,
                "payload": o.row.payload,
                "reason": o.reason,
                "error": o.error,
                "attempts": o.attempt,
                "failed_at": o.at,
            }
            for o in outcomes
            if o.status == "dead"
        ]
        with self.store.begin() as connection:
            # Only the claimer of this attempt may record it: if our lease ran out and
            # another dispatcher re-claimed the row, its attempt count has moved on.
            connection.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.attempts == bindparam("b_attempts"))
                .values(
                    status=bindparam("b_status"),
                    last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"),
                    finished_at=bindparam("b_finished"),
                    lease_until=None,
                ),
                delivery_rows,
            )
            if fire_rows:
                fired_at = bindparam("b_at", type_=Float)
                connection.execute(
                    update(f)
                    .where(f.c.id == bindparam("b_fire"))
                    .values(
                        status=bindparam("b_status"),
                        error=bindparam("b_error"),
                        fired_at=func.coalesce(f.c.fired_at, fired_at),
                        lateness_seconds=func.coalesce(f.c.lateness_seconds, fired_at - f.c.due_at),
                    ),
                    fire_rows,
                )
            if dead_rows:
                connection.execute(insert(triggers_dead_letters), dead_rows)
            for o in outcomes:
                if o.status == "dead" and o.row.dead_letter:
                    self._forward_dead_letter(connection, o)
        for o in outcomes:
            if o.status == "succeeded":
                report.succeeded += 1
            elif o.status == "dead":
                report.dead += 1
            else:
                report.retrying += 1


def purge_finished(
    store: Store,
    older_than_seconds: float,
    *,
    now: float | None = None,
    batch_size: int = 500,
    max_batches: int | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> int:
    """Delete finished (succeeded or dead) delivery rows whose `finished_at` is more than
    `older_than_seconds` ago, `batch_size` rows per transaction (at most `max_batches`
    transactions; None: until none is left); returns how many went. Pending and running
    rows are never touched; dead letters stay in `triggers_dead_letters`.

    A row's idempotency key stops duplicates only while the row exists. Keys are unique per
    event, fire or dead letter, so the one duplicate a purge can let through is a dispatcher
    whose lease ran out re-forwarding a dead letter: the retention must therefore be at
    least the lease (`lease_seconds`), and a shorter one is refused."""
    if older_than_seconds < lease_seconds:
        raise ValidationError(
            f"delivery retention {older_than_seconds:g} s is shorter than the delivery lease "
            f"({lease_seconds:g} s): duplicates could then go undetected",
            details={"field": "older_than"},
        )
    if batch_size < 1:
        raise ValidationError(f"batch_size must be at least 1 (got {batch_size})")
    cutoff = (time.time() if now is None else now) - older_than_seconds
    t = triggers_deliveries
    purged = batches = 0
    while max_batches is None or batches < max_batches:
        with store.begin() as connection:
            ids = connection.execute(
                select(t.c.id)
                .where(t.c.status.in_(FINISHED_STATUSES), t.c.finished_at < cutoff)
                .order_by(t.c.finished_at, t.c.id)
                .limit(batch_size)
            ).scalars().all()
            if ids:
                # The status test again: a row is never un-finished, but stay exact.
                connection.execute(
                    delete(t).where(t.c.id.in_(ids), t.c.status.in_(FINISHED_STATUSES))
                )
        purged += len(ids)
        batches += 1
        if len(ids) < batch_size:
            break
    return purged
