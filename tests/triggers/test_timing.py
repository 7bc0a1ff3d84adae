"""Next-fire computation: AWS's documented examples, time zones and daylight saving,
start/end dates, flexible windows, and property tests against a brute-force oracle."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.errors import ValidationError
from podium.triggers.cron import parse_cron
from podium.triggers.timing import ScheduleTiming, next_fire


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def upcoming(expression: str, after: datetime, count: int, **kwargs) -> list[datetime]:
    return ScheduleTiming.create(expression, **kwargs).upcoming(count, after)


# 2026-01-05 is a Monday, 2026-01-09 a Friday.
AWS_EXAMPLES = [
    ("cron(0 10 * * ? *)", utc(2026, 1, 5), [utc(2026, 1, 5, 10), utc(2026, 1, 6, 10), utc(2026, 1, 7, 10)]),
    ("cron(15 12 * * ? *)", utc(2026, 1, 5, 12, 15), [utc(2026, 1, 6, 12, 15), utc(2026, 1, 7, 12, 15)]),
    (
        "cron(0 18 ? * MON-FRI *)",
        utc(2026, 1, 9),
        [utc(2026, 1, 9, 18), utc(2026, 1, 12, 18), utc(2026, 1, 13, 18)],
    ),
    ("cron(0 8 1 * ? *)", utc(2026, 1, 5), [utc(2026, 2, 1, 8), utc(2026, 3, 1, 8), utc(2026, 4, 1, 8)]),
    (
        "cron(0/15 * * * ? *)",
        utc(2026, 1, 5),
        [utc(2026, 1, 5, 0, 15), utc(2026, 1, 5, 0, 30), utc(2026, 1, 5, 0, 45), utc(2026, 1, 5, 1)],
    ),
    (
        "cron(0/10 * ? * MON-FRI *)",
        utc(2026, 1, 9, 23, 45),
        [utc(2026, 1, 9, 23, 50), utc(2026, 1, 12, 0, 0), utc(2026, 1, 12, 0, 10)],
    ),
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        utc(2026, 1, 9, 17, 50),
        [utc(2026, 1, 9, 17, 55), utc(2026, 1, 12, 8, 0), utc(2026, 1, 12, 8, 5)],
    ),
    # Fields are independent: the hours after midnight belong to the day they fall on,
    # so Saturday 00:00-02:30 does not fire and Monday 00:00-02:30 does.
    (
        "cron(0/30 20-2 ? * MON-FRI *)",
        utc(2026, 1, 9, 23, 0),
        [
            utc(2026, 1, 9, 23, 30),
            utc(2026, 1, 12, 0, 0),
            utc(2026, 1, 12, 0, 30),
            utc(2026, 1, 12, 1, 0),
            utc(2026, 1, 12, 1, 30),
            utc(2026, 1, 12, 2, 0),
            utc(2026, 1, 12, 2, 30),
            utc(2026, 1, 12, 20, 0),
        ],
    ),
    ("cron(0 12 * * ? *)", utc(2026, 1, 5, 12), [utc(2026, 1, 6, 12), utc(2026, 1, 7, 12)]),
    (
        "cron(5,35 14 * * ? *)",
        utc(2026, 1, 5),
        [utc(2026, 1, 5, 14, 5), utc(2026, 1, 5, 14, 35), utc(2026, 1, 6, 14, 5)],
    ),
    (
        "cron(15 10 ? * 6L 2019-2022)",
        utc(2019, 1, 1),
        [utc(2019, 1, 25, 10, 15), utc(2019, 2, 22, 10, 15), utc(2019, 3, 29, 10, 15)],
    ),
    ("cron(15 10 ? * 6L 2019-2022)", utc(2022, 12, 1), [utc(2022, 12, 30, 10, 15)]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), AWS_EXAMPLES)
def test_aws_documented_examples(expression, after, expected):
    # Ask for one more than expected: the 2019-2022 example must stop at the end of 2022.
    count = len(expected) if expression != "cron(15 10 ? * 6L 2019-2022)" else 5
    got = upcoming(expression, after, count)
    assert got[: len(expected)] == expected
    if after.year == 2022:
        assert got == expected


def test_rate_counts_from_the_start_date():
    start = utc(2026, 1, 1, 9, 0)
    assert upcoming("rate(1 day)", utc(2025, 12, 1), 2, start=start) == [start, utc(2026, 1, 2, 9)]
    assert upcoming("rate(5 minutes)", utc(2026, 1, 1, 9, 7), 2, start=start) == [
        utc(2026, 1, 1, 9, 10),
        utc(2026, 1, 1, 9, 15),
    ]


def test_rate_without_start_starts_at_creation_on_the_next_whole_minute():
    created = utc(2026, 1, 1, 9, 0, 20)
    timing = ScheduleTiming.create("rate(1 hour)", created_at=created)
    assert timing.next_fire(created - timedelta(seconds=1)) == utc(2026, 1, 1, 9, 1)
    assert timing.next_fire(utc(2026, 1, 1, 9, 1)) == utc(2026, 1, 1, 10, 1)
    with pytest.raises(ValidationError, match="start date or a creation time"):
        ScheduleTiming.create("rate(1 hour)")


def test_rate_ignores_daylight_saving():
    timing = ScheduleTiming.create(
        "rate(1 hour)", timezone="America/New_York", start=utc(2026, 3, 8, 5)
    )
    fires = timing.upcoming(4, utc(2026, 3, 8, 4))
    assert [b - a for a, b in zip(fires, fires[1:], strict=False)] == [timedelta(hours=1)] * 3


def test_cron_in_a_time_zone():
    fires = upcoming("cron(0 9 * * ? *)", utc(2026, 1, 5), 2, timezone="Europe/Paris")
    assert fires == [utc(2026, 1, 5, 8), utc(2026, 1, 6, 8)]
    fires = upcoming("cron(0 9 * * ? *)", utc(2026, 7, 5), 1, timezone="Europe/Paris")
    assert fires == [utc(2026, 7, 5, 7)]
    fires = upcoming("cron(0 9 * * ? *)", utc(2026, 1, 5), 1, timezone="Asia/Kolkata")
    assert fires == [utc(2026, 1, 5, 3, 30)]


def test_spring_forward_gap_is_skipped():
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
    fires = upcoming("cron(30 2 * * ? *)", utc(2026, 3, 7), 3, timezone="America/New_York")
    assert fires == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_hourly_schedule_across_the_gap_loses_one_fire():
    fires = upcoming("cron(0 * * * ? *)", utc(2026, 3, 8, 5, 30), 3, timezone="America/New_York")
    # 01:00 EST, then 03:00 EDT (02:00 never happens), then 04:00 EDT.
    assert fires == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)]


def test_autumn_overlap_fires_once_at_the_first_occurrence():
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    fires = upcoming("cron(30 1 * * ? *)", utc(2026, 10, 31, 12), 2, timezone="America/New_York")
    assert fires == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    fires = upcoming("cron(0/30 * * * ? *)", utc(2026, 11, 1, 4, 45), 4, timezone="America/New_York")
    assert fires == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7), utc(2026, 11, 1, 7, 30)]


def test_asking_from_inside_the_second_pass_of_an_overlap():
    # 06:10Z is 01:10 EST, the second 01:10: 01:30 has already fired (as EDT).
    timing = ScheduleTiming.create("cron(30 1 * * ? *)", timezone="America/New_York")
    assert timing.next_fire(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)


def test_at_runs_once_in_its_time_zone():
    timing = ScheduleTiming.create("at(2026-11-01T01:30:00)", timezone="America/New_York")
    assert timing.next_fire(utc(2026, 1, 1)) == utc(2026, 11, 1, 5, 30)
    assert timing.next_fire(utc(2026, 11, 1, 5, 30)) is None
    with pytest.raises(ValidationError, match="does not exist in America/New_York"):
        ScheduleTiming.create("at(2026-03-08T02:30:00)", timezone="America/New_York")


def test_start_and_end_dates_bound_the_fires():
    timing = ScheduleTiming.create(
        "cron(0 10 * * ? *)", start=utc(2026, 1, 3, 10), end=utc(2026, 1, 5, 10)
    )
    assert timing.upcoming(5, utc(2026, 1, 1)) == [utc(2026, 1, 3, 10), utc(2026, 1, 4, 10)]
    naive_start = ScheduleTiming.create("cron(0 10 * * ? *)", start=datetime(2026, 1, 3))
    assert naive_start.start == utc(2026, 1, 3)
    with pytest.raises(ValidationError, match="must be after its start"):
        ScheduleTiming.create("cron(0 10 * * ? *)", start=utc(2026, 1, 3), end=utc(2026, 1, 2))


def test_bad_time_zone_and_window():
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        ScheduleTiming.create("cron(0 10 * * ? *)", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="1-1440 minutes"):
        ScheduleTiming.create("cron(0 10 * * ? *)", flexible_window_minutes=1441)


def test_flexible_window_offset_is_deterministic_and_inside_the_window():
    timing = ScheduleTiming.create("cron(0 * * * ? *)", flexible_window_minutes=15)
    nominals = timing.upcoming(200, utc(2026, 1, 1))
    offsets = [timing.flexible_offset(n, "nightly") for n in nominals]
    assert all(timedelta(0) <= o < timedelta(minutes=15) for o in offsets)
    assert offsets == [timing.flexible_offset(n, "nightly") for n in nominals]
    assert len(set(offsets)) > 100  # spread, not one fixed value
    assert offsets != [timing.flexible_offset(n, "other") for n in nominals]
    assert timing.due_time(nominals[0], "nightly") == nominals[0] + offsets[0]
    off = ScheduleTiming.create("cron(0 * * * ? *)")
    assert off.due_time(nominals[0], "nightly") == nominals[0]


def test_next_fire_function():
    assert next_fire("cron(0 10 * * ? *)", utc(2026, 1, 5)) == utc(2026, 1, 5, 10)
    assert next_fire("at(2026-01-05T10:00:00)", utc(2026, 1, 5), timezone="Europe/Paris") == utc(
        2026, 1, 5, 9
    )


# ---- properties -------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # half-hour daylight saving shift
    "America/Santiago",  # transitions at midnight
    "Asia/Kolkata",
    "Pacific/Chatham",
]


def _plain_field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    item = st.one_of(
        value.map(str),
        st.tuples(value, value).map(lambda r: f"{r[0]}-{r[1]}"),
        st.tuples(value, st.integers(1, high - low + 1)).map(lambda r: f"{r[0]}/{r[1]}"),
        st.integers(1, high - low + 1).map(lambda s: f"*/{s}"),
    )
    return st.one_of(
        st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join)
    )


@st.composite
def cron_expressions(draw) -> str:
    minutes = draw(_plain_field(0, 59))
    hours = draw(_plain_field(0, 23))
    months = draw(st.one_of(st.just("*"), _plain_field(1, 12)))
    if draw(st.booleans()):
        dom = draw(
            st.one_of(
                _plain_field(1, 31),
                st.just("L"),
                st.integers(1, 31).map(lambda d: f"{d}W"),
            )
        )
        dow = "?"
    else:
        dom = "?"
        dow = draw(
            st.one_of(
                st.just("*"),
                st.lists(st.integers(1, 7), min_size=1, max_size=3).map(
                    lambda v: ",".join(map(str, v))
                ),
                st.tuples(st.integers(1, 7), st.integers(1, 7)).map(lambda r: f"{r[0]}-{r[1]}"),
                st.just("L"),
                st.integers(1, 7).map(lambda d: f"{d}L"),
                st.tuples(st.integers(1, 7), st.integers(1, 5)).map(lambda r: f"{r[0]}#{r[1]}"),
            )
        )
    return f"cron({minutes} {hours} {dom} {months} {dow} *)"


afters = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=150, deadline=None)
@given(cron_expressions(), st.sampled_from(ZONES), afters)
def test_fires_are_strictly_increasing_and_match_the_fields(expression, zone_name, after):
    timing = ScheduleTiming.create(expression, timezone=zone_name)
    cron = parse_cron(expression)
    zone = ZoneInfo(zone_name)
    fires = timing.upcoming(12, after)
    assert all(a < b for a, b in zip(fires, fires[1:], strict=False))
    assert all(f > after for f in fires)
    for fire in fires:
        local = fire.astimezone(zone)
        assert local.second == 0 and local.microsecond == 0
        # fold 0: never the second pass of an overlap; and the wall time exists (it came
        # from a real instant and matches the fields, so no gap time was shifted onto it).
        assert local.fold == 0
        assert cron.matches(local.replace(tzinfo=None)), (fire, local)


@settings(max_examples=40, deadline=None)
@given(cron_expressions(), st.sampled_from(ZONES), afters)
def test_fires_equal_a_minute_by_minute_oracle(expression, zone_name, after):
    """Walk every UTC minute for two days: a minute fires iff its local wall clock matches
    and it is the first occurrence of that wall time. The fast search must agree."""
    timing = ScheduleTiming.create(expression, timezone=zone_name)
    cron = parse_cron(expression)
    zone = ZoneInfo(zone_name)
    horizon = after + timedelta(days=2)
    expected = []
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute <= horizon:
        local = minute.astimezone(zone)
        if local.fold == 0 and cron.matches(local.replace(tzinfo=None)):
            expected.append(minute)
        minute += timedelta(minutes=1)
    got = []
    moment = after
    while True:
        moment = timing.next_fire(moment)
        if moment is None or moment > horizon:
            break
        got.append(moment)
    assert got == expected


def test_dst_transition_days_against_the_oracle():
    """The property above samples random days; pin the transition days themselves."""
    for zone_name, day in [
        ("America/New_York", utc(2026, 3, 8)),
        ("America/New_York", utc(2026, 11, 1)),
        ("Australia/Lord_Howe", utc(2026, 4, 4)),
        ("Australia/Lord_Howe", utc(2026, 10, 3)),
    ]:
        zone = ZoneInfo(zone_name)
        for expression in ("cron(0/15 * * * ? *)", "cron(30 1-3 * * ? *)", "cron(0 2 ? * * *)"):
            timing = ScheduleTiming.create(expression, timezone=zone_name)
            cron = parse_cron(expression)
            got = [f for f in timing.upcoming(500, day) if f <= day + timedelta(days=1)]
            expected = []
            minute = day + timedelta(minutes=1)
            while minute <= day + timedelta(days=1):
                local = minute.astimezone(zone)
                if local.fold == 0 and cron.matches(local.replace(tzinfo=None)):
                    expected.append(minute)
                minute += timedelta(minutes=1)
            assert got == expected, (zone_name, expression)
