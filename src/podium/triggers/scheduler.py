"""The durable scheduler: schedules in the metadata store, fired exactly once per time.

`Scheduler.tick(now)` claims every schedule whose next fire is due, and in the *same*
transaction moves the schedule on to its following fire, writes a fire record and
enqueues the delivery to its target. Two guards keep a fire from being claimed twice by
two scheduler processes: the claim reads due rows with FOR UPDATE SKIP LOCKED on
PostgreSQL (SQLite has one writer at a time) and advances each with
`UPDATE ... WHERE next_fire_at = :expected`; the unique (schedule, scheduled_time)
constraint on fire records is the last line. The delivery then goes through
`podium.triggers.delivery` (at-least-once, with the fire's idempotency key).

After downtime, a schedule may have several fires in the past; its missed-fire policy
decides: `once` (the default) fires the most recent one and records how many it stands
for; `all` fires each (up to `MAX_CATCH_UP` per tick); `skip` fires only a fire that is
still within `grace_seconds` of being due. `once` is the default because a scheduled ML
job (a nightly retrain, an hourly ingest) wants to catch up once after an outage, not to
run the same work N times in a row, nor to wait silently for the next period.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.triggers import triggers_fires, triggers_schedules
from podium.triggers.delivery import DeliveryRequest, Dispatcher, DispatchReport, enqueue
from podium.triggers.retry import RetryPolicy
from podium.triggers.targets import TargetRegistry
from podium.triggers.timing import ScheduleTiming, as_utc

MISSED_FIRE_POLICIES = ("once", "all", "skip")
DEFAULT_MISSED_FIRE_POLICY = "once"
MAX_CATCH_UP = 1000
_NAME_RE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_EPSILON = timedelta(microseconds=1)


def to_epoch(moment: datetime | float | None) -> float | None:
    if moment is None or isinstance(moment, float | int):
        return None if moment is None else float(moment)
    return as_utc(moment).timestamp()


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    timezone: str
    start: datetime | None
    end: datetime | None
    flexible_window_minutes: int
    target: str
    input: Any
    state: str
    missed_fire_policy: str
    retry_policy: RetryPolicy
    description: str
    created_at: datetime
    next_fire_at: datetime | None
    due_at: datetime | None

    @property
    def timing(self) -> ScheduleTiming:
        return _timing(
            self.expression,
            self.timezone,
            to_epoch(self.start),
            to_epoch(self.end),
            self.flexible_window_minutes,
            self.created_at.timestamp(),
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "name": self.name,
            "expression": self.expression,
            "timezone": self.timezone,
            "start": iso(self.start),
            "end": iso(self.end),
            "flexible_window_minutes": self.flexible_window_minutes,
            "target": self.target,
            "input": self.input,
            "state": self.state,
            "missed_fire_policy": self.missed_fire_policy,
            "max_retry_attempts": self.retry_policy.max_retry_attempts,
            "max_event_age_seconds": self.retry_policy.max_event_age_seconds,
            "description": self.description,
            "created_at": iso(self.created_at),
            "next_fire_at": iso(self.next_fire_at),
            "due_at": iso(self.due_at),
        }


@dataclass(frozen=True)
class FireRecord:
    schedule: str
    scheduled_time: datetime
    due_at: datetime
    claimed_at: datetime
    fired_at: datetime | None
    lateness_seconds: float | None
    status: str  # pending | retrying | succeeded | failed
    missed: int
    error: str | None


@dataclass(frozen=True)
class FirePlan:
    """What one claim does for one schedule: the fires to record (nominal, due, missed
    count folded into it) and where the schedule moves next."""

    fires: tuple[tuple[datetime, datetime, int], ...]
    next_fire: datetime | None
    next_due: datetime | None


def plan_fires(
    timing: ScheduleTiming,
    seed: str,
    next_fire: datetime,
    now: datetime,
    policy: str,
    *,
    grace_seconds: float = 60.0,
) -> FirePlan:
    """Pure: given the schedule's pending fire and the time now, which fires to make."""
    missed: list[tuple[datetime, datetime]] = []
    nominal: datetime | None = next_fire
    while nominal is not None:
        due = timing.due_time(nominal, seed)
        if due > now or (policy == "all" and len(missed) >= MAX_CATCH_UP):
            break
        missed.append((nominal, due))
        nominal = timing.next_fire(nominal)
    next_due = timing.due_time(nominal, seed) if nominal is not None else None
    if not missed:
        return FirePlan((), nominal, next_due)
    if policy == "all":
        fires = tuple((n, d, 0) for n, d in missed)
    else:
        last_nominal, last_due = missed[-1]
        on_time = (now - last_due).total_seconds() <= grace_seconds
        fire_last = policy == "once" or on_time
        fires = ((last_nominal, last_due, len(missed) - 1),) if fire_last else ()
    return FirePlan(fires, nominal, next_due)


@lru_cache(maxsize=4096)
def _timing(
    expression: str,
    timezone: str,
    start: float | None,
    end: float | None,
    window: int,
    created_at: float,
) -> ScheduleTiming:
    return ScheduleTiming.create(
        expression,
        timezone=timezone,
        start=to_datetime(start),
        end=to_datetime(end),
        flexible_window_minutes=window,
        created_at=to_datetime(created_at),
    )


@dataclass
class TickReport:
    claimed: int  # schedules claimed
    fires: int  # fire records written
    dispatch: DispatchReport


class Scheduler:
    """Schedules: create, list, pause, resume, delete; `tick(now)` fires what is due."""

    def __init__(
        self,
        store: Store,
        targets: TargetRegistry | None = None,
        *,
        batch_size: int = 500,
        grace_seconds: float = 60.0,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = store
        self.targets = targets if targets is not None else TargetRegistry()
        self.batch_size = batch_size
        self.grace_seconds = grace_seconds
        self.dispatcher = dispatcher or Dispatcher(store, self.targets)

    # ---- definitions ---------------------------------------------------------------

    def create(
        self,
        name: str,
        expression: str,
        target: str,
        *,
        input: Any = None,
        timezone: str = "UTC",
        start: datetime | None = None,
        end: datetime | None = None,
        flexible_window_minutes: int | None = None,
        missed_fire_policy: str = DEFAULT_MISSED_FIRE_POLICY,
        retry_policy: RetryPolicy | None = None,
        description: str = "",
        enabled: bool = True,
        now: datetime | None = None,
    ) -> Schedule:
        """Validate and store a schedule; its first fire is the first at or after `now`."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValidationError(
                f"schedule name {name!r} must be 1-64 letters, digits, '-', '_' or '.'",
                details={"field": "name"},
            )
        if missed_fire_policy not in MISSED_FIRE_POLICIES:
            raise ValidationError(
                f"missed_fire_policy must be one of {', '.join(MISSED_FIRE_POLICIES)} "
                f"(got {missed_fire_policy!r})",
                details={"field": "missed_fire_policy"},
            )
        if not isinstance(target, str) or not target:
            raise ValidationError("a schedule needs a target name", details={"field": "target"})
        created = as_utc(now) if now is not None else datetime.now(UTC)
        timing = ScheduleTiming.create(
            expression,
            timezone=timezone,
            start=start,
            end=end,
            flexible_window_minutes=flexible_window_minutes,
            created_at=created,
        )
        policy = retry_policy or RetryPolicy()
        first = timing.next_fire(created.replace(microsecond=0) - _EPSILON)
        first_due = timing.due_time(first, name) if first is not None else None
        row = {
            "name": name,
            "expression": expression.strip(),
            "timezone": timing.timezone,
            "start_at": to_epoch(timing.start),
            "end_at": to_epoch(timing.end),
            "flexible_window_minutes": timing.flexible_window_minutes,
            "target": target,
            "input": json.dumps(input),
            "state": "ENABLED" if enabled else "DISABLED",
            "missed_fire_policy": missed_fire_policy,
            "max_retry_attempts": policy.max_retry_attempts,
            "max_event_age_seconds": policy.max_event_age_seconds,
            "description": description,
            "created_at": created.timestamp(),
            "updated_at": created.timestamp(),
            "next_fire_at": to_epoch(first),
            "due_at": to_epoch(first_due),
        }
        try:
            with self.store.begin() as connection:
                connection.execute(insert(triggers_schedules).values(**row))
        except IntegrityError:
            raise ConflictError(f"schedule {name!r} already exists") from None
        return self.get(name)

    def get(self, name: str) -> Schedule:
        with self.store.connect() as connection:
            row = connection.execute(
                select(triggers_schedules).where(triggers_schedules.c.name == name)
            ).first()
        if row is None:
            raise NotFoundError(f"schedule {name!r} does not exist")
        return _schedule(row)

    def list_schedules(self) -> list[Schedule]:
        with self.store.connect() as connection:
            rows = connection.execute(
                select(triggers_schedules).order_by(triggers_schedules.c.name)
            ).all()
        return [_schedule(row) for row in rows]

    def pause(self, name: str, *, now: datetime | None = None) -> Schedule:
        return self._set_state(name, "DISABLED", now)

    def resume(self, name: str, *, now: datetime | None = None) -> Schedule:
        """Enable again; fires that fell while paused are not made up (as in AWS)."""
        return self._set_state(name, "ENABLED", now)

    def delete(self, name: str) -> None:
        with self.store.begin() as connection:
            result = connection.execute(
                delete(triggers_schedules).where(triggers_schedules.c.name == name)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"schedule {name!r} does not exist")

    def upcoming(self, name: str, count: int, *, after: datetime | None = None) -> list[datetime]:
        schedule = self.get(name)
        moment = after or datetime.now(UTC)
        return schedule.timing.upcoming(count, moment)

    def fires(self, name: str | None = None, *, limit: int = 100) -> list[FireRecord]:
        f = triggers_fires
        query = select(f).order_by(f.c.scheduled_time.desc(), f.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(f.c.schedule == name)
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        return [
            FireRecord(
                schedule=row.schedule,
                scheduled_time=to_datetime(row.scheduled_time),  # type: ignore[arg-type]
                due_at=to_datetime(row.due_at),  # type: ignore[arg-type]
                claimed_at=to_datetime(row.claimed_at),  # type: ignore[arg-type]
                fired_at=to_datetime(row.fired_at),
                lateness_seconds=row.lateness_seconds,
                status=row.status,
                missed=row.missed,
                error=row.error,
            )
            for row in rows
        ]

    def _set_state(self, name: str, state: str, now: datetime | None) -> Schedule:
        schedule = self.get(name)
        moment = as_utc(now) if now is not None else datetime.now(UTC)
        values: dict[str, Any] = {"state": state, "updated_at": moment.timestamp()}
        if state == "ENABLED" and schedule.state != "ENABLED":
            nominal = schedule.timing.next_fire(moment - _EPSILON)
            values["next_fire_at"] = to_epoch(nominal)
            values["due_at"] = to_epoch(schedule.timing.due_time(nominal, name)) if nominal else None
        with self.store.begin() as connection:
            connection.execute(
                update(triggers_schedules).where(triggers_schedules.c.name == name).values(**values)
            )
        return self.get(name)

    # ---- firing --------------------------------------------------------------------

    def tick(self, now: datetime | float | None = None) -> TickReport:
        """Claim and fire everything due at `now` (default: the wall clock), then deliver."""
        moment = time.time() if now is None else to_epoch(now)
        assert moment is not None
        claimed = fired = 0
        while True:
            batch_claimed, batch_fired = self._claim_batch(moment)
            claimed += batch_claimed
            fired += batch_fired
            if batch_claimed < self.batch_size:
                break
        return TickReport(claimed, fired, self.dispatcher.dispatch(moment))

    def _claim_batch(self, now: float) -> tuple[int, int]:
        s = triggers_schedules
        query = (
            select(s)
            .where(s.c.state == "ENABLED", s.c.due_at.is_not(None), s.c.due_at <= now)
            .order_by(s.c.due_at)
            .limit(self.batch_size)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        now_dt = to_datetime(now)
        assert now_dt is not None
        try:
            with self.store.begin() as connection:
                rows = connection.execute(query).all()
                fire_rows: list[dict[str, Any]] = []
                requests: list[DeliveryRequest] = []
                for row in rows:
                    schedule = _schedule(row)
                    plan = plan_fires(
                        schedule.timing,
                        schedule.name,
                        schedule.next_fire_at,  # type: ignore[arg-type]
                        now_dt,
                        schedule.missed_fire_policy,
                        grace_seconds=self.grace_seconds,
                    )
                    moved = connection.execute(
                        update(s)
                        .where(s.c.name == row.name, s.c.next_fire_at == row.next_fire_at)
                        .values(
                            next_fire_at=to_epoch(plan.next_fire),
                            due_at=to_epoch(plan.next_due),
                            updated_at=now,
                        )
                    )
                    if moved.rowcount != 1:
                        continue  # another scheduler advanced it first
                    for nominal, due, missed in plan.fires:
                        fire_rows.append(
                            {
                                "schedule": row.name,
                                "scheduled_time": nominal.timestamp(),
                                "due_at": due.timestamp(),
                                "claimed_at": now,
                                "fired_at": None,
                                "lateness_seconds": None,
                                "status": "pending",
                                "missed": missed,
                                "error": None,
                            }
                        )
                        requests.append(
                            DeliveryRequest(
                                origin="schedule",
                                origin_name=row.name,
                                target=schedule.target,
                                payload=schedule.input,
                                idempotency_key=f"schedule:{row.name}:{nominal.isoformat()}",
                                policy=schedule.retry_policy,
                            )
                        )
                if fire_rows:
                    ids = connection.execute(
                        insert(triggers_fires).returning(
                            triggers_fires.c.id, sort_by_parameter_order=True
                        ),
                        fire_rows,
                    ).scalars().all()
                    requests = [
                        replace(request, fire_id=fire_id)
                        for request, fire_id in zip(requests, ids, strict=True)
                    ]
                    enqueue(connection, requests, now)
        except IntegrityError:
            # The unique (schedule, scheduled_time) guard fired: another scheduler recorded
            # one of these fires. Nothing of this batch was written; the next tick re-reads.
            return 0, 0
        return len(rows), len(fire_rows)


def _schedule(row: Any) -> Schedule:
    return Schedule(
        name=row.name,
        expression=row.expression,
        timezone=row.timezone,
        start=to_datetime(row.start_at),
        end=to_datetime(row.end_at),
        flexible_window_minutes=row.flexible_window_minutes,
        target=row.target,
        input=json.loads(row.input) if row.input is not None else None,
        state=row.state,
        missed_fire_policy=row.missed_fire_policy,
        retry_policy=RetryPolicy(row.max_retry_attempts, row.max_event_age_seconds),
        description=row.description,
        created_at=to_datetime(row.created_at),  # type: ignore[arg-type]
        next_fire_at=to_datetime(row.next_fire_at),
        due_at=to_datetime(row.due_at),
    )

