"""rate(...) and at(...) parsing, and the dispatch in parse_expression."""

from datetime import datetime, timedelta

import pytest

from podium.errors import ValidationError
from podium.triggers.cron import CronExpression
from podium.triggers.expressions import AtExpression, RateExpression, parse_expression


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_rate_examples(text, interval):
    compiled = parse_expression(text)
    assert isinstance(compiled, RateExpression)
    assert compiled.interval == interval


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("rate(1 hours)", "unit", "singular"),
        ("rate(5 hour)", "unit", "plural"),
        ("rate(1 minutes)", "unit", "singular"),
        ("rate(0 minutes)", "value", "positive"),
        ("rate(-1 minutes)", "value", "positive"),
        ("rate(1.5 hours)", "value", "positive"),
        ("rate(2 weeks)", "unit", "minute"),
        ("rate(5)", "expression", "rate(<value> <unit>)"),
        ("rate(5 minutes", "expression", "rate(<value> <unit>)"),
    ],
)
def test_invalid_rates(text, field, reason):
    with pytest.raises(ValidationError) as caught:
        parse_expression(text)
    assert caught.value.details["field"] == field
    assert reason in caught.value.message


def test_at_parses_wall_clock_time():
    compiled = parse_expression("at(2026-11-30T09:15:30)")
    assert isinstance(compiled, AtExpression)
    assert compiled.wall == datetime(2026, 11, 30, 9, 15, 30)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("at(2026-02-30T00:00:00)", "date"),
        ("at(2026-01-01T24:00:00)", "date"),
        ("at(2026-01-01 10:00:00)", "expression"),
        ("at(2026-01-01T10:00)", "expression"),
    ],
)
def test_invalid_at(text, field):
    with pytest.raises(ValidationError) as caught:
        parse_expression(text)
    assert caught.value.details["field"] == field


def test_dispatch_and_unknown_kinds():
    assert isinstance(parse_expression("  cron(0 10 * * ? *) "), CronExpression)
    with pytest.raises(ValidationError, match="expected cron"):
        parse_expression("every 5 minutes")
    with pytest.raises(ValidationError, match="must be a string"):
        parse_expression(5)  # type: ignore[arg-type]
