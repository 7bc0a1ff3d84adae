"""format_timestamp: the text strftime gave, for any aware or naive moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from podium.asl.timestamps import format_timestamp, parse_timestamp


def reference(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize("moment", [
    datetime(2026, 11, 26, 10, 32, 40, 123456, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 30, 0, 500, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 2, 28, 22, 0, 0, 1000, tzinfo=timezone(timedelta(hours=-7))),
    datetime(2026, 6, 15, 12, 0, 0, 7000),  # naive: local time, as astimezone reads it
    datetime(999, 5, 6, 7, 8, 9, 10000, tzinfo=UTC),
    datetime.fromtimestamp(1764153160.1239, UTC),
])
def test_format_matches_strftime(moment: datetime) -> None:
    assert format_timestamp(moment) == reference(moment)


def test_format_round_trips() -> None:
    text = format_timestamp(datetime(2026, 11, 26, 10, 32, 40, 123456, tzinfo=UTC))
    assert text == "2026-11-26T10:32:40.123Z"
    assert parse_timestamp(text) == datetime(2026, 11, 26, 10, 32, 40, 123000, tzinfo=UTC)
