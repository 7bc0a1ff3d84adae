"""Schedule expressions: `cron(...)`, `rate(n unit)` and one-time `at(yyyy-mm-ddThh:mm:ss)`.

`parse_expression` turns the text into one of three immutable compiled forms. Cron
lives in `cron.py`; rate and at are small enough to live here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from podium.triggers.cron import CronExpression, invalid, parse_cron

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE_RE = re.compile(r"^rate\(\s*(\S+)\s+(\S+)\s*\)$")
_AT_RE = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")


@dataclass(frozen=True)
class RateExpression:
    """`rate(value unit)`: a fixed interval of elapsed time, independent of wall clocks."""

    text: str
    value: int
    unit: str  # singular: minute | hour | day

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.value * _UNIT_SECONDS[self.unit])


@dataclass(frozen=True)
class AtExpression:
    """`at(yyyy-mm-ddThh:mm:ss)`: one wall-clock moment in the schedule's time zone."""

    text: str
    wall: datetime  # naive


ScheduleExpression = CronExpression | RateExpression | AtExpression


def parse_expression(text: str) -> ScheduleExpression:
    """Parse and validate a schedule expression; ValidationError names the field and reason."""
    if not isinstance(text, str):
        raise invalid(repr(text), "expression", "a schedule expression must be a string")
    stripped = text.strip()
    if stripped.startswith("cron("):
        return parse_cron(stripped)
    if stripped.startswith("rate("):
        return parse_rate(stripped)
    if stripped.startswith("at("):
        return parse_at(stripped)
    raise invalid(
        text,
        "expression",
        "expected cron(...), rate(value unit) or at(yyyy-mm-ddThh:mm:ss)",
    )


def parse_rate(text: str) -> RateExpression:
    match = _RATE_RE.match(text)
    if match is None:
        raise invalid(text, "expression", "a rate expression is written rate(<value> <unit>)")
    value_s, unit = match.groups()
    if not value_s.isdigit() or int(value_s) < 1:
        raise invalid(text, "value", f"the value must be a positive whole number (got {value_s!r})")
    value = int(value_s)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in _UNIT_SECONDS:
        raise invalid(text, "unit", f"the unit must be minute(s), hour(s) or day(s) (got {unit!r})")
    # AWS: a value of 1 takes the singular unit, anything larger the plural.
    if value == 1 and unit != singular:
        raise invalid(text, "unit", f"a value of 1 takes the singular unit: rate(1 {singular})")
    if value > 1 and unit == singular:
        raise invalid(
            text, "unit", f"a value above 1 takes the plural unit: rate({value} {singular}s)"
        )
    return RateExpression(text, value, singular)


def parse_at(text: str) -> AtExpression:
    match = _AT_RE.match(text)
    if match is None:
        raise invalid(text, "expression", "a one-time expression is written at(yyyy-mm-ddThh:mm:ss)")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise invalid(text, "date", f"not a real date and time ({exc})") from None
    return AtExpression(text, wall)
