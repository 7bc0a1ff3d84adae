"""Offline store compaction: fewer files, same rows, same training sets, no half state."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from podium.cli.main import main
from podium.config import Settings
from podium.errors import ValidationError
from podium.features import FeatureStore
from podium.store import Store

T0 = datetime(2024, 1, 1, 18, tzinfo=UTC)


@pytest.fixture
def busy(fs: FeatureStore, clock) -> FeatureStore:  # type: ignore[no-untyped-def]
    """A group written by many small writes over three event dates, with equal event
    times written at different write times, a full tie and a deletion marker."""
    fs.create_group("g", record_identifiers="id", event_time="ts", ttl=6 * 3600,
                    features={"id": "int64", "ts": "timestamp", "v": "float64"})
    for step in range(12):
        clock.now += timedelta(seconds=1)
        fs.put_record("g", {"id": step % 5, "ts": T0 + timedelta(hours=4 * step), "v": float(step)})
    clock.now += timedelta(seconds=1)
    fs.put_record("g", {"id": 1, "ts": T0 + timedelta(hours=4), "v": 100.0})  # same event time, later write
    fs.ingest("g", [{"id": 2, "ts": T0 + timedelta(hours=8), "v": 7.0},
                    {"id": 2, "ts": T0 + timedelta(hours=8), "v": 8.0}])  # full tie: later row wins
    fs.delete_record("g", 3, T0 + timedelta(hours=30))
    fs.add_features("g", {"w": "string"})  # a later schema version: merged files keep both
    fs.put_record("g", {"id": 4, "ts": T0 + timedelta(hours=31), "v": 1.0, "w": "x"})
    return fs


def _entities() -> pd.DataFrame:
    times = [T0 + timedelta(hours=h) for h in range(0, 52, 3)]
    return pd.DataFrame({"id": [i for _ in times for i in range(6)],
                         "at": [t for t in times for _ in range(6)]})


def _snapshot(fs: FeatureStore) -> tuple[pd.DataFrame, list[dict]]:
    built = fs.training_set(_entities(), ["g"], timestamp="at").to_pandas()
    logged = fs.query("SELECT * FROM g ORDER BY ingestion_id, ingestion_row").to_pylist()
    return built, logged


def _files(settings: Settings) -> list[Path]:
    return sorted((Path(settings.lake_url) / "features" / "offline" / "g").rglob("*.parquet"))


def test_compaction_merges_files_and_changes_no_result(busy: FeatureStore, settings: Settings) -> None:
    before, logged = _snapshot(busy)
    assert len(_files(settings)) == 16
    result = busy.compact("g")
    assert (result.partitions, result.files_before, result.files_after) == (3, 16, 3)
    assert result.rows == len(logged)
    assert [f.name.split("-")[0] for f in _files(settings)] == ["compact"] * 3
    after, logged_after = _snapshot(busy)
    pd.testing.assert_frame_equal(after, before)
    assert logged_after == logged
    # The rules still hold on the merged files (not only "equal to before").
    row = after[(after["id"] == 1) & (after["at"] == T0 + timedelta(hours=6))].iloc[0]
    assert row["v"] == 100.0
    row = after[(after["id"] == 2) & (after["at"] == T0 + timedelta(hours=9))].iloc[0]
    assert row["v"] == 8.0
    assert (after["g__status"] == "deleted").sum() > 0 and (after["g__status"] == "expired").sum() > 0
    assert busy.compact("g").partitions == 0  # nothing left to merge
    busy.put_record("g", {"id": 9, "ts": T0, "v": 2.0})
    again = busy.compact("g")  # a compacted file merges with new small ones
    assert (again.partitions, again.files_after) == (1, 3)
    assert busy.query("SELECT count(*) AS n FROM g").to_pylist() == [{"n": len(logged) + 1}]


def test_a_crash_between_publish_and_delete_is_invisible_and_cleaned_up(
    busy: FeatureStore, settings: Settings
) -> None:
    before, logged = _snapshot(busy)

    def crash(_: str) -> None:
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        busy.compact("g", after_publish=crash)
    # The first partition's merged file is there and so are the files it replaces.
    names = [f.name for f in _files(settings)]
    assert sum(n.startswith("compact-") for n in names) == 1 and len(names) == 17
    after, logged_after = _snapshot(busy)
    pd.testing.assert_frame_equal(after, before)
    assert logged_after == logged
    result = busy.compact("g")
    assert result.garbage_removed > 0 and len(_files(settings)) == 3
    pd.testing.assert_frame_equal(_snapshot(busy)[0], before)


def test_readers_during_compaction_always_see_every_row(
    busy: FeatureStore, settings: Settings, store: Store
) -> None:
    expected = busy.query("SELECT count(*) AS n, sum(v) AS s FROM g").to_pylist()
    reader = FeatureStore(settings, store, memory_limit="300MB")
    seen: list[list[dict]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(reader.query("SELECT count(*) AS n, sum(v) AS s FROM g").to_pylist())

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(3):
            busy.put_record("g", {"id": 0, "ts": T0 - timedelta(days=5), "v": 0.0})
            expected[0]["n"] += 1
            busy.compact("g")
    finally:
        done.set()
        thread.join()
        reader.close()
    assert seen
    # Each read saw some whole state: the row count only grows by the records written.
    assert all(s[0]["s"] == expected[0]["s"] for s in seen)
    assert {s[0]["n"] for s in seen} <= set(range(expected[0]["n"] - 3, expected[0]["n"] + 1))
    assert busy.query("SELECT count(*) AS n, sum(v) AS s FROM g").to_pylist() == expected


def test_files_of_writes_not_completed_are_left_apart(
    busy: FeatureStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_: object, **__: object) -> int:
        raise ConnectionError("online store down")

    monkeypatch.setattr(busy.online, "put_latest", down)
    with pytest.raises(ConnectionError):
        busy.put_record("g", {"id": 1, "ts": T0, "v": 5.0})
    monkeypatch.undo()
    result = busy.compact("g")
    assert result.files_after == 4  # three merged files and the failed write's own file
    with pytest.raises(ValidationError, match="at least 2"):
        busy.compact("g", min_files=1)


def test_compact_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("PODIUM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    main(["features", "create", "g", "--id", "id", "--event-time", "ts", "-f", "id:int64", "-f", "ts:timestamp"])
    settings = Settings.for_home(tmp_path / "home")
    from podium.store import open_store

    fs = FeatureStore(settings, open_store(settings))
    for i in range(3):
        fs.put_record("g", {"id": i, "ts": "2024-01-01T00:00:00Z"})
    fs.close()
    capsys.readouterr()
    main(["--json", "features", "compact", "g"])
    out = json.loads(capsys.readouterr().out)
    assert (out["partitions"], out["files_before"], out["files_after"], out["rows"]) == (1, 3, 1, 3)
