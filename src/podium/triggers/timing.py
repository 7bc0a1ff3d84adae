"""When a schedule fires: expression + time zone + start/end + flexible window, as pure code.

`ScheduleTiming.next_fire(after)` is the one function the scheduler asks: the first
nominal fire time strictly after `after`, in UTC, or None when the schedule is over.
The clock is always passed in.

Daylight saving follows EventBridge Scheduler: cron and at expressions are read on the
wall clock of `timezone`; a wall-clock time that does not exist (the spring-forward
gap) is skipped, and a wall-clock time that happens twice (the autumn overlap) fires
once, at its first occurrence. Rate expressions measure elapsed time and ignore wall
clocks entirely (rate(1 hour) is always 60 minutes apart).

Fire times are returned as UTC datetimes on purpose: Python compares two aware
datetimes that share a tzinfo by wall clock, ignoring `fold`, which would make the two
01:30s of an autumn night compare equal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from podium.errors import ValidationError
from podium.triggers.cron import CronExpression, invalid
from podium.triggers.expressions import (
    AtExpression,
    RateExpression,
    ScheduleExpression,
    parse_expression,
)

MAX_FLEXIBLE_WINDOW_MINUTES = 1440
_ONE_MICROSECOND = timedelta(microseconds=1)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive input is taken to be UTC already (as AWS dates are)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or a ValidationError saying it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'",
            code="InvalidScheduleTimezone",
            details={"field": "timezone", "value": name},
        ) from None


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant a naive wall-clock time names in `zone`: None inside a DST gap, the
    first occurrence inside a DST overlap."""
    aware = wall.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    # A time in the gap does not survive the round trip: 02:30 comes back as 03:30.
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


@dataclass(frozen=True)
class ScheduleTiming:
    """A compiled schedule's timing. Build with `ScheduleTiming.create` (validates)."""

    expression: ScheduleExpression
    zone: ZoneInfo
    start: datetime | None = None  # UTC; fires on or after it
    end: datetime | None = None  # UTC; fires strictly before it
    flexible_window_minutes: int = 0  # 0 = OFF
    anchor: datetime | None = None  # UTC; where a rate counts from (start, else creation)

    @classmethod
    def create(
        cls,
        expression: str | ScheduleExpression,
        *,
        timezone: str = "UTC",
        start: datetime | None = None,
        end: datetime | None = None,
        flexible_window_minutes: int | None = None,
        created_at: datetime | None = None,
    ) -> ScheduleTiming:
        """Validate and compile. `created_at` anchors a rate that has no start date
        (AWS: such a schedule starts immediately)."""
        compiled = parse_expression(expression) if isinstance(expression, str) else expression
        zone = load_zone(timezone)
        start_utc = as_utc(start) if start is not None else None
        end_utc = as_utc(end) if end is not None else None
        if start_utc is not None and end_utc is not None and end_utc <= start_utc:
            raise ValidationError(
                f"schedule end date {end_utc.isoformat()} must be after its start date "
                f"{start_utc.isoformat()}",
                code="InvalidScheduleDates",
                details={"field": "end"},
            )
        window = flexible_window_minutes or 0
        if not 0 <= window <= MAX_FLEXIBLE_WINDOW_MINUTES:
            raise ValidationError(
                f"flexible time window must be 1-{MAX_FLEXIBLE_WINDOW_MINUTES} minutes, "
                f"or 0/None for OFF (got {flexible_window_minutes})",
                code="InvalidFlexibleTimeWindow",
                details={"field": "flexible_window_minutes"},
            )
        anchor = None
        if isinstance(compiled, RateExpression):
            base = start_utc or (as_utc(created_at) if created_at is not None else None)
            if base is None:
                raise ValidationError(
                    f"{compiled.text}: a rate schedule needs a start date or a creation time "
                    "to count from",
                    code="InvalidScheduleDates",
                    details={"field": "start"},
                )
            # 60-second precision: a rate counts from the next whole minute.
            anchor = _ceil_minute(base)
        if isinstance(compiled, AtExpression) and wall_to_utc(compiled.wall, zone) is None:
            raise invalid(
                compiled.text,
                "date",
                f"{compiled.wall.isoformat()} does not exist in {timezone} "
                "(clocks skip it for daylight saving)",
            )
        return cls(compiled, zone, start_utc, end_utc, window, anchor)

    @property
    def timezone(self) -> str:
        return self.zone.key

    def next_fire(self, after: datetime) -> datetime | None:
        """The first nominal fire time strictly after `after` (UTC), or None if none is left."""
        after = as_utc(after)
        if self.start is not None and self.start > after:
            after = self.start - _ONE_MICROSECOND
        expression = self.expression
        if isinstance(expression, CronExpression):
            found = self._next_cron(expression, after)
        elif isinstance(expression, RateExpression):
            found = self._next_rate(expression, after)
        else:
            instant = wall_to_utc(expression.wall, self.zone)
            found = instant if instant is not None and instant > after else None
        if found is None or (self.end is not None and found >= self.end):
            return None
        return found

    def upcoming(self, count: int, after: datetime) -> list[datetime]:
        """The next `count` nominal fire times after `after` (fewer if the schedule ends)."""
        fires: list[datetime] = []
        moment: datetime | None = as_utc(after)
        while len(fires) < count and moment is not None:
            moment = self.next_fire(moment)
            if moment is not None:
                fires.append(moment)
        return fires

    def flexible_offset(self, nominal: datetime, seed: str) -> timedelta:
        """Where inside the flexible window this fire lands: deterministic in (seed, time),
        so every scheduler process computes the same due time, and spread evenly."""
        if not self.flexible_window_minutes:
            return timedelta(0)
        digest = hashlib.sha256(f"{seed}|{as_utc(nominal).isoformat()}".encode()).digest()
        seconds = int.from_bytes(digest[:8], "big") % (self.flexible_window_minutes * 60)
        return timedelta(seconds=seconds)

    def due_time(self, nominal: datetime, seed: str) -> datetime:
        """When the fire for `nominal` is actually due: nominal plus its flexible offset."""
        return as_utc(nominal) + self.flexible_offset(nominal, seed)

    def _next_cron(self, expression: CronExpression, after: datetime) -> datetime | None:
        zone = self.zone
        if zone.key == "UTC":
            wall = expression.next_wall_time(after.replace(tzinfo=None))
            return wall.replace(tzinfo=UTC) if wall is not None else None
        local = after.astimezone(zone).replace(tzinfo=None)
        start = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        # Wall times map to instants monotonically (gaps dropped, overlaps at their first
        # occurrence), so the first wall time whose instant is past `after` is the answer.
        # Only inside an autumn overlap can a later wall time still lie before `after`.
        for wall in expression.wall_times_from(start):
            instant = wall_to_utc(wall, zone)
            if instant is None:
                continue
            if instant > after:
                return instant
            if self.end is not None and instant >= self.end:
                return None
        return None

    def _next_rate(self, expression: RateExpression, after: datetime) -> datetime | None:
        assert self.anchor is not None  # create() guarantees it for rates
        if after < self.anchor:
            return self.anchor
        interval = expression.interval
        steps = (after - self.anchor) // interval + 1
        return self.anchor + steps * interval


def _ceil_minute(moment: datetime) -> datetime:
    floored = moment.replace(second=0, microsecond=0)
    return floored if floored == moment else floored + timedelta(minutes=1)


def next_fire(
    expression: str | ScheduleExpression,
    after: datetime,
    *,
    timezone: str = "UTC",
    start: datetime | None = None,
    end: datetime | None = None,
    created_at: datetime | None = None,
) -> datetime | None:
    """One-shot convenience over `ScheduleTiming`: the next fire after `after`, in UTC."""
    timing = ScheduleTiming.create(
        expression, timezone=timezone, start=start, end=end, created_at=created_at
    )
    return timing.next_fire(after)
