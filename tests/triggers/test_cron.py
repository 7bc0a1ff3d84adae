"""cron(...) parsing and validation: every rule of AWS's six-field grammar."""

from datetime import date, datetime

import pytest

from podium.errors import ValidationError
from podium.triggers.cron import DayRule, parse_cron


def test_fields_expand_to_sorted_values():
    cron = parse_cron("cron(5,35 14 * JAN-MAR,DEC ? 2024-2026)")
    assert cron.minutes == (5, 35)
    assert cron.hours == (14,)
    assert cron.months == (1, 2, 3, 12)
    assert cron.years == (2024, 2025, 2026)
    assert cron.day_rule == DayRule("dom", values=tuple(range(1, 32)))


def test_increments_start_at_the_given_value():
    assert parse_cron("cron(1/10 * * * ? *)").minutes == (1, 11, 21, 31, 41, 51)
    assert parse_cron("cron(0/15 * * * ? *)").minutes == (0, 15, 30, 45)
    assert parse_cron("cron(*/20 * * * ? *)").minutes == (0, 20, 40)
    assert parse_cron("cron(0 1-10/3 * * ? *)").hours == (1, 4, 7, 10)
    assert parse_cron("cron(0 0 1/10 * ? *)").day_rule.values == (1, 11, 21, 31)


def test_wrapping_ranges_cover_both_ends():
    assert parse_cron("cron(0 20-2 * * ? *)").hours == (0, 1, 2, 20, 21, 22, 23)
    assert parse_cron("cron(0 22-2/2 * * ? *)").hours == (0, 2, 22)
    assert parse_cron("cron(0 0 ? * FRI-MON *)").day_rule.values == (1, 2, 6, 7)
    assert parse_cron("cron(0 0 1 NOV-FEB ? *)").months == (1, 2, 11, 12)


def test_names_are_case_insensitive():
    assert parse_cron("cron(0 18 ? * mon-fri *)").day_rule.values == (2, 3, 4, 5, 6)
    assert parse_cron("cron(0 0 1 jan,Feb ? *)").months == (1, 2)


@pytest.mark.parametrize(
    ("dom", "dow", "rule"),
    [
        ("L", "?", DayRule("dom-last")),
        ("15W", "?", DayRule("dom-weekday", n=15)),
        ("?", "L", DayRule("dow", values=(7,))),
        ("?", "6L", DayRule("dow-last", n=6)),
        ("?", "FRIL", DayRule("dow-last", n=6)),
        ("?", "3#2", DayRule("dow-nth", n=3, k=2)),
        ("?", "TUE#2", DayRule("dow-nth", n=3, k=2)),
    ],
)
def test_special_day_characters(dom, dow, rule):
    assert parse_cron(f"cron(0 0 {dom} * {dow} *)").day_rule == rule


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("cron(0 10 * * *)", "expression"),
        ("cron(0 10 * * ? * *)", "expression"),
        ("0 10 * * ? *", "expression"),
        ("cron(60 10 * * ? *)", "minutes"),
        ("cron(0 24 * * ? *)", "hours"),
        ("cron(0 0 32 * ? *)", "day-of-month"),
        ("cron(0 0 0 * ? *)", "day-of-month"),
        ("cron(0 0 1 13 ? *)", "month"),
        ("cron(0 0 1 FOO ? *)", "month"),
        ("cron(0 0 ? * 8 *)", "day-of-week"),
        ("cron(0 0 ? * 0 *)", "day-of-week"),
        ("cron(0 0 1 * ? 1969)", "year"),
        ("cron(0 0 1 * ? 2200)", "year"),
        ("cron(0 10 * * * *)", "day-of-week"),
        ("cron(0 10 ? * ? *)", "day-of-month"),
        ("cron(0 10 1 * MON *)", "day-of-week"),
        ("cron(? 10 1 * ? *)", "minutes"),
        ("cron(0 0 ? * 3#1,6#3 *)", "day-of-week"),
        ("cron(0 0 ? * 3#6 *)", "day-of-week"),
        ("cron(0 0 ? * 1/2 *)", "day-of-week"),
        ("cron(0/0 * * * ? *)", "minutes"),
        ("cron(0/61 * * * ? *)", "minutes"),
        ("cron(1,,2 * * * ? *)", "minutes"),
        ("cron(0 0 1,L * ? *)", "day-of-month"),
        ("cron(0 0 LW * ? *)", "day-of-month"),
        ("cron(0 0 1-5W * ? *)", "day-of-month"),
        ("cron(0 0 ? * 2-6L *)", "day-of-week"),
        ("cron(-1 0 1 * ? *)", "minutes"),
    ],
)
def test_invalid_expressions_name_the_field(expression, field):
    with pytest.raises(ValidationError) as caught:
        parse_cron(expression)
    assert caught.value.code == "InvalidScheduleExpression"
    assert caught.value.details["field"] == field
    assert f"{field}:" in caught.value.message


def test_both_day_fields_star_is_rejected_with_the_fix():
    with pytest.raises(ValidationError, match=r"exactly one of day-of-month and day-of-week must be '\?'"):
        parse_cron("cron(0 10 * * * *)")


@pytest.mark.parametrize(
    ("rule", "year", "month", "days"),
    [
        (DayRule("dom-last"), 2024, 2, (29,)),
        (DayRule("dom-last"), 2026, 4, (30,)),
        # 2026-08-01 is a Saturday: 1W moves forward to Monday the 3rd, not into July.
        (DayRule("dom-weekday", n=1), 2026, 8, (3,)),
        # 2026-05-31 is a Sunday: 31W moves back to Friday the 29th.
        (DayRule("dom-weekday", n=31), 2026, 5, (29,)),
        # 2026-03-15 is a Sunday: nearest weekday is Monday the 16th.
        (DayRule("dom-weekday", n=15), 2026, 3, (16,)),
        # 2026-02-14 is a Saturday: nearest weekday is Friday the 13th.
        (DayRule("dom-weekday", n=14), 2026, 2, (13,)),
        (DayRule("dom-weekday", n=31), 2026, 4, ()),
        (DayRule("dom", values=(30, 31)), 2026, 2, ()),
        (DayRule("dow-last", n=6), 2026, 7, (31,)),
        (DayRule("dow-last", n=1), 2026, 2, (22,)),
        (DayRule("dow-nth", n=3, k=2), 2026, 9, (8,)),
        (DayRule("dow-nth", n=5, k=5), 2026, 2, ()),
        (DayRule("dow-nth", n=1, k=5), 2026, 3, (29,)),
        (DayRule("dow", values=(1,)), 2026, 11, (1, 8, 15, 22, 29)),
    ],
)
def test_day_rules_select_the_right_days(rule, year, month, days):
    assert rule.days(year, month) == days
    for day in range(1, 32):
        try:
            moment = date(year, month, day)
        except ValueError:
            continue
        assert rule.matches(moment) == (day in days)


def test_wall_times_from_is_inclusive_and_ordered():
    cron = parse_cron("cron(0/30 9-10 * * ? *)")
    times = list(zip(range(5), cron.wall_times_from(datetime(2026, 1, 1, 9, 30)), strict=False))
    assert [t for _, t in times] == [
        datetime(2026, 1, 1, 9, 30),
        datetime(2026, 1, 1, 10, 0),
        datetime(2026, 1, 1, 10, 30),
        datetime(2026, 1, 2, 9, 0),
        datetime(2026, 1, 2, 9, 30),
    ]


def test_an_expression_that_never_fires_returns_none():
    assert parse_cron("cron(0 0 30 FEB ? *)").next_wall_time(datetime(2026, 1, 1)) is None
    assert parse_cron("cron(0 0 1 * ? 2020)").next_wall_time(datetime(2026, 1, 1)) is None
