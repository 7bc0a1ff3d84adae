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

Schedules live in schedule groups, as in EventBridge Scheduler: a schedule is named
within its group (`default` unless said otherwise, which always exists), and deleting a
group deletes its schedules. A schedule whose `action_after_completion` is `DELETE` is
removed in the transaction that makes its last fire (a one-time schedule after its one
fire, a recurring one after the last fire before its end date; without an end date a
recurring schedule never completes). Its fire records and queued delivery stay.

A schedule's input may contain EventBridge Scheduler's context attributes, replaced in
each delivery: `<aws.scheduler.schedule-arn>`, `<aws.scheduler.scheduled-time>`,
`<aws.scheduler.execution-id>` (one per attempt) and `<aws.scheduler.attempt-number>`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.triggers import (
    triggers_fires,
    triggers_schedule_groups,
    triggers_schedules,
)
from podium.triggers.delivery import DeliveryRequest, Dispatcher, DispatchReport, enqueue
from podium.triggers.retry import RetryPolicy
from podium.triggers.targets import TargetRegistry
from podium.triggers.timing import ScheduleTiming, as_utc

MISSED_FIRE_POLICIES = ("once", "all", "skip")
DEFAULT_MISSED_FIRE_POLICY = "once"
ACTIONS_AFTER_COMPLETION = ("NONE", "DELETE")
DEFAULT_GROUP = "default"
ACCOUNT = "000000000000"
REGION = "local"
MAX_CATCH_UP = 1000
_NAME_RE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_EPSILON = timedelta(microseconds=1)
_UPDATABLE = frozenset({
    "expression", "target", "input", "timezone", "start", "end", "flexible_window_minutes",
    "missed_fire_policy", "retry_policy", "action_after_completion", "dead_letter",
    "description", "enabled",
})
_REQUIRED = frozenset({
    "expression", "target", "timezone", "missed_fire_policy", "action_after_completion",
    "description", "enabled",
})


def to_epoch(moment: datetime | float | None) -> float | None:
    if moment is None or isinstance(moment, float | int):
        return None if moment is None else float(moment)
    return as_utc(moment).timestamp()


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def schedule_key(group: str, name: str) -> str:
    """How deliveries, dead letters and idempotency keys name a schedule: its name in the
    default group, `group/name` elsewhere (names cannot contain '/')."""
    return name if group == DEFAULT_GROUP else f"{group}/{name}"


def schedule_arn(group: str, name: str) -> str:
    return f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{name}"


def _check_name(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValidationError(
            f"{what} name {value!r} must be 1-64 letters, digits, '-', '_' or '.'",
            details={"field": "group" if what == "schedule group" else "name"},
        )


@dataclass(frozen=True)
class ScheduleGroup:
    name: str
    description: str
    created_at: datetime | None  # None for the built-in default group
    schedules: int

    @property
    def arn(self) -> str:
        return f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "state": "ACTIVE",
            "description": self.description,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "schedules": self.schedules,
        }


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
    group: str = DEFAULT_GROUP
    action_after_completion: str = "NONE"
    dead_letter: str | None = None

    @property
    def key(self) -> str:
        return schedule_key(self.group, self.name)

    @property
    def arn(self) -> str:
        return schedule_arn(self.group, self.name)

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
            "group": self.group,
            "arn": self.arn,
            "expression": self.expression,
            "timezone": self.timezone,
            "start": iso(self.start),
            "end": iso(self.end),
            "flexible_window_minutes": self.flexible_window_minutes,
            "target": self.target,
            "input": self.input,
            "state": self.state,
            "missed_fire_policy": self.missed_fire_policy,
            "action_after_completion": self.action_after_completion,
            "max_retry_attempts": self.retry_policy.max_retry_attempts,
            "max_event_age_seconds": self.retry_policy.max_event_age_seconds,
            "dead_letter": self.dead_letter,
            "description": self.description,
            "created_at": iso(self.created_at),
            "next_fire_at": iso(self.next_fire_at),
            "due_at": iso(self.due_at),
        }


@dataclass(frozen=True)
class FireRecord:
    schedule: str
    group: str
    scheduled_time: datetime
    due_at: datetime
    claimed_at: datetime
    fired_at: datetime | None
    lateness_seconds: float | None
    status: str  # pending | retrying | succeeded | failed
    missed: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """The fire as the CLI and HTTP API show it (ISO 8601 times)."""
        return {
            "scheduled_time": self.scheduled_time.isoformat(),
            "due_at": self.due_at.isoformat(),
            "fired_at": self.fired_at.isoformat() if self.fired_at else None,
            "lateness_seconds": self.lateness_seconds,
            "status": self.status,
            "missed": self.missed,
            "error": self.error,
        }


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

    # ---- groups --------------------------------------------------------------------

    def create_group(
        self, name: str, *, description: str = "", now: datetime | None = None
    ) -> ScheduleGroup:
        """Create a schedule group (`default` always exists)."""
        _check_name(name, "schedule group")
        if name == DEFAULT_GROUP:
            raise ConflictError(f"schedule group {name!r} already exists (it is built in)")
        created = as_utc(now) if now is not None else datetime.now(UTC)
        try:
            with self.store.begin() as connection:
                connection.execute(
                    insert(triggers_schedule_groups).values(
                        name=name, description=description, created_at=created.timestamp()
                    )
                )
        except IntegrityError:
            raise ConflictError(f"schedule group {name!r} already exists") from None
        return self.get_group(name)

    def get_group(self, name: str) -> ScheduleGroup:
        groups = {g.name: g for g in self._groups(name)}
        if name not in groups:
            raise NotFoundError(f"schedule group {name!r} does not exist")
        return groups[name]

    def list_groups(self) -> list[ScheduleGroup]:
        """Every group, `default` first, with how many schedules each holds."""
        return self._groups(None)

    def delete_group(self, name: str) -> int:
        """Delete a group and every schedule in it (their fire records stay); returns how
        many schedules went. The `default` group cannot be deleted."""
        if name == DEFAULT_GROUP:
            raise ValidationError(
                "the default schedule group cannot be deleted", details={"field": "group"}
            )
        g, s = triggers_schedule_groups, triggers_schedules
        with self.store.begin() as connection:
            # The group row goes first: a concurrent create() holding it waits, then sees
            # no group; one that committed before is seen by the schedule delete below.
            gone = connection.execute(delete(g).where(g.c.name == name))
            if gone.rowcount == 0:
                raise NotFoundError(f"schedule group {name!r} does not exist")
            removed = connection.execute(delete(s).where(s.c.group_name == name))
        return int(removed.rowcount)

    def _groups(self, only: str | None) -> list[ScheduleGroup]:
        g, s = triggers_schedule_groups, triggers_schedules
        counts_query = select(s.c.group_name, func.count()).group_by(s.c.group_name)
        groups_query = select(g).order_by(g.c.name)
        if only is not None:
            counts_query = counts_query.where(s.c.group_name == only)
            groups_query = groups_query.where(g.c.name == only)
        with self.store.connect() as connection:
            counts = {group: count for group, count in connection.execute(counts_query)}
            rows = connection.execute(groups_query).all()
        groups = []
        if only in (None, DEFAULT_GROUP):
            groups.append(ScheduleGroup(DEFAULT_GROUP, "", None, counts.get(DEFAULT_GROUP, 0)))
        groups += [
            ScheduleGroup(row.name, row.description, to_datetime(row.created_at), counts.get(row.name, 0))
            for row in rows
        ]
        return groups

    # ---- definitions ---------------------------------------------------------------

    def create(
        self,
        name: str,
        expression: str,
        target: str,
        *,
        group: str = DEFAULT_GROUP,
        input: Any = None,
        timezone: str = "UTC",
        start: datetime | None = None,
        end: datetime | None = None,
        flexible_window_minutes: int | None = None,
        missed_fire_policy: str = DEFAULT_MISSED_FIRE_POLICY,
        retry_policy: RetryPolicy | None = None,
        action_after_completion: str = "NONE",
        dead_letter: str | None = None,
        description: str = "",
        enabled: bool = True,
        now: datetime | None = None,
    ) -> Schedule:
        """Validate and store a schedule in `group`; its first fire is the first at or
        after `now`."""
        _check_name(name, "schedule")
        _check_name(group, "schedule group")
        if missed_fire_policy not in MISSED_FIRE_POLICIES:
            raise ValidationError(
                f"missed_fire_policy must be one of {', '.join(MISSED_FIRE_POLICIES)} "
                f"(got {missed_fire_policy!r})",
                details={"field": "missed_fire_policy"},
            )
        if action_after_completion not in ACTIONS_AFTER_COMPLETION:
            raise ValidationError(
                f"action_after_completion must be NONE or DELETE (got {action_after_completion!r})",
                details={"field": "action_after_completion"},
            )
        if not isinstance(target, str) or not target:
            raise ValidationError("a schedule needs a target name", details={"field": "target"})
        if dead_letter is not None and (not isinstance(dead_letter, str) or not dead_letter):
            raise ValidationError(
                "dead_letter must name a target (e.g. stream:failures)",
                details={"field": "dead_letter"},
            )
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
        key = schedule_key(group, name)
        first = timing.next_fire(created.replace(microsecond=0) - _EPSILON)
        first_due = timing.due_time(first, key) if first is not None else None
        row = {
            "group_name": group,
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
            "action_after_completion": action_after_completion,
            "max_retry_attempts": policy.max_retry_attempts,
            "max_event_age_seconds": policy.max_event_age_seconds,
            "dead_letter": dead_letter,
            "description": description,
            "created_at": created.timestamp(),
            "updated_at": created.timestamp(),
            "next_fire_at": to_epoch(first),
            "due_at": to_epoch(first_due),
        }
        try:
            with self.store.begin() as connection:
                if group != DEFAULT_GROUP:
                    g = triggers_schedule_groups
                    query = select(g.c.name).where(g.c.name == group)
                    if self.store.dialect == "postgresql":
                        query = query.with_for_update(read=True)  # hold off delete_group
                    if connection.execute(query).first() is None:
                        raise NotFoundError(f"schedule group {group!r} does not exist")
                connection.execute(insert(triggers_schedules).values(**row))
        except IntegrityError:
            raise ConflictError(f"schedule {name!r} already exists in group {group!r}") from None
        return self.get(name, group=group)

    def update(
        self,
        name: str,
        *,
        group: str = DEFAULT_GROUP,
        now: datetime | None = None,
        **changes: Any,
    ) -> Schedule:
        """Change a schedule (EventBridge's UpdateSchedule, but only the fields given:
        expression, target, input, timezone, start, end, flexible_window_minutes,
        missed_fire_policy, retry_policy, action_after_completion, dead_letter, description,
        enabled). A change of timing moves the next fire to the first new time after now
        (never back onto a time already fired); other changes keep it."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValidationError(
                f"cannot update {sorted(unknown)}; updatable: {', '.join(sorted(_UPDATABLE))}",
                details={"field": sorted(unknown)[0]},
            )
        required = [key for key, value in changes.items() if value is None and key in _REQUIRED]
        if required:
            raise ValidationError(f"{required[0]} cannot be null", details={"field": required[0]})
        current = self.get(name, group=group)
        moment = as_utc(now) if now is not None else datetime.now(UTC)
        merged: dict[str, Any] = {
            "expression": current.expression, "target": current.target, "input": current.input,
            "timezone": current.timezone, "start": current.start, "end": current.end,
            "flexible_window_minutes": current.flexible_window_minutes,
            "missed_fire_policy": current.missed_fire_policy, "retry_policy": current.retry_policy,
            "action_after_completion": current.action_after_completion,
            "dead_letter": current.dead_letter, "description": current.description,
            "enabled": current.state == "ENABLED",
        }
        merged.update(changes)
        # Validate the whole new definition exactly as create() would.
        if merged["missed_fire_policy"] not in MISSED_FIRE_POLICIES:
            raise ValidationError(
                f"missed_fire_policy must be one of {', '.join(MISSED_FIRE_POLICIES)}",
                details={"field": "missed_fire_policy"},
            )
        if merged["action_after_completion"] not in ACTIONS_AFTER_COMPLETION:
            raise ValidationError(
                "action_after_completion must be NONE or DELETE",
                details={"field": "action_after_completion"},
            )
        if not isinstance(merged["target"], str) or not merged["target"]:
            raise ValidationError("a schedule needs a target name", details={"field": "target"})
        if merged["dead_letter"] is not None and (
            not isinstance(merged["dead_letter"], str) or not merged["dead_letter"]
        ):
            raise ValidationError("dead_letter must name a target", details={"field": "dead_letter"})
        timing = ScheduleTiming.create(
            merged["expression"], timezone=merged["timezone"], start=merged["start"],
            end=merged["end"], flexible_window_minutes=merged["flexible_window_minutes"],
            created_at=current.created_at,
        )
        policy = merged["retry_policy"] or RetryPolicy()
        values: dict[str, Any] = {
            "expression": merged["expression"].strip(),
            "timezone": timing.timezone,
            "start_at": to_epoch(timing.start),
            "end_at": to_epoch(timing.end),
            "flexible_window_minutes": timing.flexible_window_minutes,
            "target": merged["target"],
            "input": json.dumps(merged["input"]),
            "state": "ENABLED" if merged["enabled"] else "DISABLED",
            "missed_fire_policy": merged["missed_fire_policy"],
            "action_after_completion": merged["action_after_completion"],
            "max_retry_attempts": policy.max_retry_attempts,
            "max_event_age_seconds": policy.max_event_age_seconds,
            "dead_letter": merged["dead_letter"],
            "description": merged["description"],
            "updated_at": moment.timestamp(),
        }
        retimed = timing != current.timing or (merged["enabled"] and current.state != "ENABLED")
        if retimed:
            after = moment - _EPSILON
            (last,) = self.fires(name, group=group, limit=1) or (None,)
            if last is not None and last.scheduled_time > after:
                after = last.scheduled_time
            nominal = timing.next_fire(after)
            values["next_fire_at"] = to_epoch(nominal)
            values["due_at"] = to_epoch(timing.due_time(nominal, current.key)) if nominal else None
        s = triggers_schedules
        with self.store.begin() as connection:
            # Compare-and-set on the next fire: a scheduler that fired meanwhile wins, and
            # the caller is told to try again rather than having the fire undone.
            guard = (
                s.c.next_fire_at.is_(None)
                if current.next_fire_at is None
                else s.c.next_fire_at == to_epoch(current.next_fire_at)
            )
            changed = connection.execute(update(s).where(*_where(group, name), guard).values(**values))
        if changed.rowcount != 1:
            raise ConflictError(
                f"schedule {name!r} in group {group!r} fired or changed while being updated; try again"
            )
        return self.get(name, group=group)

    def get(self, name: str, *, group: str = DEFAULT_GROUP) -> Schedule:
        with self.store.connect() as connection:
            row = connection.execute(select(triggers_schedules).where(*_where(group, name))).first()
        if row is None:
            raise NotFoundError(f"schedule {name!r} does not exist in group {group!r}")
        return _schedule(row)

    def list_schedules(self, *, group: str | None = None) -> list[Schedule]:
        """All schedules, or those of one group, by group then name."""
        s = triggers_schedules
        query = select(s).order_by(s.c.group_name, s.c.name)
        if group is not None:
            query = query.where(s.c.group_name == group)
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        return [_schedule(row) for row in rows]

    def pause(self, name: str, *, group: str = DEFAULT_GROUP, now: datetime | None = None) -> Schedule:
        return self._set_state(group, name, "DISABLED", now)

    def resume(self, name: str, *, group: str = DEFAULT_GROUP, now: datetime | None = None) -> Schedule:
        """Enable again; fires that fell while paused are not made up (as in AWS)."""
        return self._set_state(group, name, "ENABLED", now)

    def delete(self, name: str, *, group: str = DEFAULT_GROUP) -> None:
        with self.store.begin() as connection:
            result = connection.execute(delete(triggers_schedules).where(*_where(group, name)))
        if result.rowcount == 0:
            raise NotFoundError(f"schedule {name!r} does not exist in group {group!r}")

    def upcoming(
        self, name: str, count: int, *, group: str = DEFAULT_GROUP, after: datetime | None = None
    ) -> list[datetime]:
        schedule = self.get(name, group=group)
        moment = after or datetime.now(UTC)
        return schedule.timing.upcoming(count, moment)

    def fires(
        self, name: str | None = None, *, group: str = DEFAULT_GROUP, limit: int = 100
    ) -> list[FireRecord]:
        """Fire records, newest first: of schedule `name` in `group`, or of every schedule."""
        f = triggers_fires
        query = select(f).order_by(f.c.scheduled_time.desc(), f.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(f.c.schedule_group == group, f.c.schedule == name)
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        return [
            FireRecord(
                schedule=row.schedule,
                group=row.schedule_group,
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

    def _set_state(self, group: str, name: str, state: str, now: datetime | None) -> Schedule:
        schedule = self.get(name, group=group)
        moment = as_utc(now) if now is not None else datetime.now(UTC)
        values: dict[str, Any] = {"state": state, "updated_at": moment.timestamp()}
        if state == "ENABLED" and schedule.state != "ENABLED":
            nominal = schedule.timing.next_fire(moment - _EPSILON)
            values["next_fire_at"] = to_epoch(nominal)
            values["due_at"] = (
                to_epoch(schedule.timing.due_time(nominal, schedule.key)) if nominal else None
            )
        with self.store.begin() as connection:
            connection.execute(update(triggers_schedules).where(*_where(group, name)).values(**values))
        return self.get(name, group=group)

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
                        schedule.key,
                        schedule.next_fire_at,  # type: ignore[arg-type]
                        now_dt,
                        schedule.missed_fire_policy,
                        grace_seconds=self.grace_seconds,
                    )
                    claim = _where(row.group_name, row.name) + (
                        s.c.next_fire_at == row.next_fire_at,
                    )
                    if plan.next_fire is None and schedule.action_after_completion == "DELETE":
                        moved = connection.execute(delete(s).where(*claim))
                    else:
                        moved = connection.execute(
                            update(s)
                            .where(*claim)
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
                                "schedule_group": row.group_name,
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
                                origin_name=schedule.key,
                                target=schedule.target,
                                payload=_fire_input(row.input, schedule.arn, nominal),
                                idempotency_key=f"schedule:{schedule.key}:{nominal.isoformat()}",
                                policy=schedule.retry_policy,
                                dead_letter=schedule.dead_letter,
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
            # The unique (group, schedule, scheduled_time) guard fired: another scheduler recorded
            # one of these fires. Nothing of this batch was written; the next tick re-reads.
            return 0, 0
        return len(rows), len(fire_rows)


def _where(group: str, name: str) -> tuple[Any, ...]:
    s = triggers_schedules
    return (s.c.group_name == group, s.c.name == name)


def _fire_input(input_text: str | None, arn: str, nominal: datetime) -> Any:
    """The schedule's input for one fire, with the fire's context attributes filled in
    (the per-attempt ones are filled in by the dispatcher)."""
    if input_text is None:
        return None
    if "<aws.scheduler." in input_text:
        input_text = input_text.replace("<aws.scheduler.schedule-arn>", arn).replace(
            "<aws.scheduler.scheduled-time>", as_utc(nominal).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    return json.loads(input_text)


def _schedule(row: Any) -> Schedule:
    return Schedule(
        group=row.group_name,
        action_after_completion=row.action_after_completion,
        dead_letter=row.dead_letter,
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

