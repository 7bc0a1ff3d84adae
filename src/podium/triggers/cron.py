"""AWS six-field `cron(...)` expressions: parsing, validation and wall-clock matching.

The grammar is EventBridge's (Minutes Hours Day-of-month Month Day-of-week Year), not
Unix cron's: day-of-week counts 1 = SUN .. 7 = SAT, exactly one of day-of-month and
day-of-week is `?`, and `L`, `W` and `#` follow Quartz. A parsed expression is an
immutable `CronExpression` whose fields are pre-expanded into sorted tuples, so the
next-fire search in `podium.triggers.schedule` touches no parser.

Everything here works on naive *wall-clock* datetimes; time zones and daylight saving
are the caller's concern (see `schedule.py`).
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from podium.errors import ValidationError

MIN_YEAR = 1970
MAX_YEAR = 2199

_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
_DAY_NAMES = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: dict[str, int]
    step_allowed: bool = True


_MINUTES = _FieldSpec("minutes", 0, 59, {})
_HOURS = _FieldSpec("hours", 0, 23, {})
_DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31, {})
_MONTH = _FieldSpec("month", 1, 12, _MONTH_NAMES)
# AWS lists no `/` for day-of-week.
_DAY_OF_WEEK = _FieldSpec("day-of-week", 1, 7, _DAY_NAMES, step_allowed=False)
_YEAR = _FieldSpec("year", MIN_YEAR, MAX_YEAR, {})


def invalid(expression: str, field: str, reason: str) -> ValidationError:
    """The error for an expression that breaks a rule: says which field and why."""
    return ValidationError(
        f"invalid schedule expression {expression!r}: {field}: {reason}",
        code="InvalidScheduleExpression",
        details={"expression": expression, "field": field, "reason": reason},
    )


def aws_day_of_week(day: date) -> int:
    """AWS numbering of a date's weekday: 1 = Sunday .. 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class DayRule:
    """How the day of a month is chosen; exactly one kind is active.

    kind: "dom" (days in `values`), "dom-last" (last day), "dom-weekday" (`nW`, nearest
    weekday to `n`), "dow" (weekdays in `values`), "dow-last" (`nL`, last weekday n),
    "dow-nth" (`n#k`, k-th weekday n).
    """

    kind: str
    values: tuple[int, ...] = ()
    n: int = 0
    k: int = 0

    def days(self, year: int, month: int) -> tuple[int, ...]:
        """The sorted days of (year, month) this rule selects."""
        first_weekday, length = calendar.monthrange(year, month)
        # AWS weekday of the 1st: calendar gives Monday = 0.
        first_dow = (first_weekday + 1) % 7 + 1
        if self.kind == "dom":
            return tuple(d for d in self.values if d <= length)
        if self.kind == "dom-last":
            return (length,)
        if self.kind == "dom-weekday":
            return _nearest_weekday(year, month, self.n, length)
        if self.kind == "dow":
            wanted = set(self.values)
            return tuple(
                d for d in range(1, length + 1) if (first_dow - 1 + d - 1) % 7 + 1 in wanted
            )
        if self.kind == "dow-last":
            last_dow = (first_dow - 1 + length - 1) % 7 + 1
            return (length - (last_dow - self.n) % 7,)
        # dow-nth
        first = 1 + (self.n - first_dow) % 7
        day = first + 7 * (self.k - 1)
        return (day,) if day <= length else ()

    def matches(self, day: date) -> bool:
        """Whether `day` is selected, checked directly rather than by enumeration."""
        length = calendar.monthrange(day.year, day.month)[1]
        dow = aws_day_of_week(day)
        if self.kind == "dom":
            return day.day in self.values
        if self.kind == "dom-last":
            return day.day == length
        if self.kind == "dom-weekday":
            return day.day in _nearest_weekday(day.year, day.month, self.n, length)
        if self.kind == "dow":
            return dow in self.values
        if self.kind == "dow-last":
            return dow == self.n and day.day + 7 > length
        return dow == self.n and (day.day - 1) // 7 + 1 == self.k


def _nearest_weekday(year: int, month: int, n: int, length: int) -> tuple[int, ...]:
    # Quartz's `W` never leaves the month: the 1st on a Saturday moves to Monday the 3rd,
    # the last day on a Sunday moves back to the Friday. A day the month lacks never fires.
    if n > length:
        return ()
    dow = aws_day_of_week(date(year, month, n))
    if dow == 7:  # Saturday
        return (n - 1,) if n > 1 else (n + 2,)
    if dow == 1:  # Sunday
        return (n + 1,) if n < length else (n - 2,)
    return (n,)


@dataclass(frozen=True)
class CronExpression:
    """A compiled `cron(...)` expression; fields are sorted tuples of allowed values."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rule: DayRule

    def matches(self, wall: datetime) -> bool:
        """Whether the wall-clock minute `wall` (seconds ignored) satisfies every field."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and wall.year in self.years
            and self.day_rule.matches(wall.date())
        )

    def wall_times_from(self, start: datetime) -> Iterator[datetime]:
        """Matching naive wall-clock minutes at or after `start`, ascending, until year 2199."""
        start = start.replace(second=0, microsecond=0)
        for year in self.years[bisect.bisect_left(self.years, start.year) :]:
            same_year = year == start.year
            months = self.months
            if same_year:
                months = months[bisect.bisect_left(months, start.month) :]
            for month in months:
                same_month = same_year and month == start.month
                days = self.day_rule.days(year, month)
                if same_month:
                    days = days[bisect.bisect_left(days, start.day) :]
                for day in days:
                    same_day = same_month and day == start.day
                    hours = self.hours
                    if same_day:
                        hours = hours[bisect.bisect_left(hours, start.hour) :]
                    for hour in hours:
                        minutes = self.minutes
                        if same_day and hour == start.hour:
                            minutes = minutes[bisect.bisect_left(minutes, start.minute) :]
                        for minute in minutes:
                            yield datetime(year, month, day, hour, minute)

    def next_wall_time(self, after: datetime) -> datetime | None:
        """The first matching wall-clock minute strictly after `after`, or None."""
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return next(self.wall_times_from(start), None)


_CRON_RE = re.compile(r"^cron\((.*)\)$", re.DOTALL)


def parse_cron(text: str) -> CronExpression:
    """Parse and validate `cron(...)`; raises ValidationError naming the field and reason."""
    match = _CRON_RE.match(text.strip())
    if match is None:
        raise invalid(text, "expression", "a cron expression is written cron(<six fields>)")
    parts = match.group(1).split()
    if len(parts) != 6:
        raise invalid(
            text,
            "expression",
            f"cron needs six fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(parts)}",
        )
    minute_s, hour_s, dom_s, month_s, dow_s, year_s = parts
    minutes = _parse_plain(text, _MINUTES, minute_s)
    hours = _parse_plain(text, _HOURS, hour_s)
    months = _parse_plain(text, _MONTH, month_s)
    years = _parse_plain(text, _YEAR, year_s)
    day_rule = _parse_days(text, dom_s, dow_s)
    return CronExpression(text.strip(), minutes, hours, months, years, day_rule)


def _parse_days(text: str, dom: str, dow: str) -> DayRule:
    if (dom == "?") == (dow == "?"):
        field = "day-of-week" if dom != "?" else "day-of-month"
        raise invalid(
            text,
            field,
            "exactly one of day-of-month and day-of-week must be '?' "
            f"(got day-of-month {dom!r}, day-of-week {dow!r})",
        )
    if dow == "?":
        upper = dom.upper()
        if upper == "L":
            return DayRule("dom-last")
        if upper.endswith("W"):
            number = upper[:-1]
            if "," in number or not number.isdigit():
                raise invalid(
                    text, "day-of-month", f"'W' takes one day number, as in '15W' (got {dom!r})"
                )
            day = int(number)
            if not 1 <= day <= 31:
                raise invalid(text, "day-of-month", f"{day} is outside 1-31")
            return DayRule("dom-weekday", n=day)
        if "L" in upper or "W" in upper:
            raise invalid(
                text, "day-of-month", f"'L' and 'W' must stand alone in the field (got {dom!r})"
            )
        return DayRule("dom", values=_parse_plain(text, _DAY_OF_MONTH, dom))
    upper = dow.upper()
    if "#" in upper:
        if "," in upper:
            raise invalid(
                text, "day-of-week", f"only one '#' expression is allowed, without a list (got {dow!r})"
            )
        weekday_s, _, nth_s = upper.partition("#")
        weekday = _value(text, _DAY_OF_WEEK, weekday_s)
        if not nth_s.isdigit() or not 1 <= int(nth_s) <= 5:
            raise invalid(text, "day-of-week", f"the number after '#' must be 1-5 (got {dow!r})")
        return DayRule("dow-nth", n=weekday, k=int(nth_s))
    if upper == "L":
        return DayRule("dow", values=(7,))  # last day of the week: Saturday
    if upper.endswith("L"):
        if "," in upper or "-" in upper:
            raise invalid(
                text, "day-of-week", f"'<day>L' takes one weekday, as in '6L' (got {dow!r})"
            )
        return DayRule("dow-last", n=_value(text, _DAY_OF_WEEK, upper[:-1]))
    if "L" in upper:  # no weekday name contains an L, so this is a misplaced one
        raise invalid(text, "day-of-week", f"'L' must end the field, as in '6L' (got {dow!r})")
    return DayRule("dow", values=_parse_plain(text, _DAY_OF_WEEK, dow))


def _parse_plain(text: str, spec: _FieldSpec, field: str) -> tuple[int, ...]:
    """Expand a field made of `*`, values, ranges (possibly wrapping), steps and lists."""
    if field == "?":
        raise invalid(text, spec.name, "'?' is only allowed in day-of-month or day-of-week")
    values: set[int] = set()
    for item in field.split(","):
        if item == "":
            raise invalid(text, spec.name, f"empty item in list {field!r}")
        values.update(_parse_item(text, spec, item))
    return tuple(sorted(values))


def _parse_item(text: str, spec: _FieldSpec, item: str) -> list[int]:
    span = spec.high - spec.low + 1
    base, slash, step_s = item.partition("/")
    step = 1
    if slash:
        if not spec.step_allowed:
            raise invalid(text, spec.name, f"'/' is not allowed in {spec.name} (got {item!r})")
        if not step_s.isdigit() or not 1 <= int(step_s) <= span:
            raise invalid(
                text, spec.name, f"the increment after '/' must be 1-{span} (got {item!r})"
            )
        step = int(step_s)
    if base == "*":
        first, last = spec.low, spec.high
    elif "-" in base:
        first_s, _, last_s = base.partition("-")
        first, last = _value(text, spec, first_s), _value(text, spec, last_s)
    else:
        first = _value(text, spec, base)
        # `a/n` runs from a to the end of the field; a bare value is just itself.
        last = spec.high if slash else first
    if first <= last:
        return list(range(first, last + 1, step))
    # A wrapping range such as hours 20-2 covers 20..23 and 0..2; the step counts on
    # across the wrap.
    count = last - spec.low + spec.high - first + 2
    return [spec.low + (first - spec.low + i) % span for i in range(0, count, step)]


def _value(text: str, spec: _FieldSpec, token: str) -> int:
    upper = token.upper()
    if upper in spec.names:
        return spec.names[upper]
    if not token.isdigit():
        expected = f"a number {spec.low}-{spec.high}"
        if spec.names:
            first, *_, last = spec.names
            expected += f" or a name {first}-{last}"
        raise invalid(text, spec.name, f"{token!r} is not {expected}")
    value = int(token)
    if not spec.low <= value <= spec.high:
        raise invalid(text, spec.name, f"{value} is outside {spec.low}-{spec.high}")
    return value
