"""The offline store: partitioned append-only Parquet, atomic files, SQL views, schema versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from podium.config import Settings
from podium.errors import ValidationError
from podium.features import FeatureStore
from podium.store import Store

T0 = datetime(2024, 1, 1, 23, 0, tzinfo=UTC)


@pytest.fixture
def group(fs: FeatureStore) -> FeatureStore:
    fs.create_group("g", record_identifiers="id", event_time="ts",
                    features={"id": "string", "ts": "timestamp", "v": "float64"})
    return fs


def rows(*specs: tuple[str, int, float]) -> pd.DataFrame:
    return pd.DataFrame({"id": [s[0] for s in specs],
                         "ts": [T0 + timedelta(hours=s[1]) for s in specs],
                         "v": [s[2] for s in specs]})


def test_partitioned_by_event_date_and_nothing_half_written(group: FeatureStore, settings: Settings) -> None:
    result = group.ingest("g", rows(("a", 0, 1.0), ("b", 2, 2.0), ("a", 3, 3.0)))
    root = Path(settings.lake_url) / "features" / "offline" / "g"
    partitions = sorted(p.name for p in root.iterdir())
    assert partitions == ["event_date=2024-01-01", "event_date=2024-01-02"]
    assert len(result.files) == 2
    assert not [p for p in root.rglob("*") if p.name.startswith(".")]  # no temporary files left
    assert not any((settings.home / "tmp" / "features-staging").iterdir())


def test_log_columns_and_append_only(group: FeatureStore, clock) -> None:
    first = group.ingest("g", rows(("a", 0, 1.0)))
    clock.now += timedelta(seconds=5)
    second = group.ingest("g", rows(("a", 0, 9.0)))
    table = group.query("SELECT * FROM g ORDER BY ingestion_id").to_pandas()
    assert table["v"].tolist() == [1.0, 9.0]
    assert table["ingestion_id"].tolist() == [first.ingestion_id, second.ingestion_id]
    assert not table["is_deleted"].any()
    assert table["write_time"].iloc[1] - table["write_time"].iloc[0] == pd.Timedelta(seconds=5)


def test_added_features_read_as_null_for_older_rows(group: FeatureStore) -> None:
    group.ingest("g", rows(("a", 0, 1.0)))
    group.add_features("g", {"w": "int64"})
    assert group.query("SELECT w FROM g")["w"].to_pylist() == [None]
    group.put_record("g", {"id": "b", "ts": T0, "v": 2.0, "w": 7})
    assert sorted(group.query("SELECT w FROM g")["w"].to_pylist(), key=str) == [7, None]


def test_empty_group_is_queryable_and_bad_sql_is_a_validation_error(group: FeatureStore) -> None:
    assert group.query("SELECT count(*) AS n FROM g")["n"].to_pylist() == [0]
    with pytest.raises(ValidationError, match="query failed"):
        group.query("SELECT nope FROM g")


def test_non_local_lake_through_fsspec(tmp_path: Path, store: Store) -> None:
    settings = Settings.for_home(tmp_path / "home", lake_url=f"memory://lake-{tmp_path.name}")
    fs = FeatureStore(settings, store)
    fs.create_group("g", record_identifiers="id", event_time="ts",
                    features={"id": "string", "ts": "timestamp", "v": "float64"})
    fs.ingest("g", rows(("a", 0, 1.0), ("a", 1, 2.0)))
    assert fs.query("SELECT sum(v) AS s FROM g")["s"].to_pylist() == [3.0]
    entity = pd.DataFrame({"id": ["a"], "ts": [T0 + timedelta(minutes=90)]})
    assert fs.training_set(entity, ["g"], timestamp="ts").table["v"].to_pylist() == [2.0]
    fs.close()


def test_large_inputs_update_online_in_slices_of_one_ingestion(
    group: FeatureStore, monkeypatch: pytest.MonkeyPatch, clock
) -> None:
    import podium.features.feature_store as module

    monkeypatch.setattr(module, "WRITE_BATCH_ROWS", 2)
    clock.now = T0 + timedelta(hours=1)
    result = group.ingest("g", rows(("a", 0, 1.0), ("b", 0, 2.0), ("a", 0, 3.0), ("b", -1, 4.0), ("a", 0, 5.0)))
    table = group.query("SELECT ingestion_id, ingestion_row, v FROM g ORDER BY ingestion_row")
    assert set(table["ingestion_id"].to_pylist()) == {result.ingestion_id}
    assert table["ingestion_row"].to_pylist() == [0, 1, 2, 3, 4]
    # Equal event times: the later row wins even across slices; b's older event stays history.
    assert group.get_record("g", "a")["v"] == 5.0
    assert group.get_record("g", "b")["v"] == 2.0
    assert [i.rows for i in group.lineage.ingestions("g")] == [5]


def test_ingest_a_batch_jobs_parquet_output(group: FeatureStore, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "job-output" / "day=1"
    out.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(rows(("a", 0, 1.0), ("b", 0, 2.0)), preserve_index=False),
                   out / "part-0.parquet")
    with pytest.raises(ValidationError, match="unknown column"):
        group.ingest("g", tmp_path / "job-output")  # the hive column 'day' is not a feature
    result = group.ingest("g", out / "part-0.parquet")
    assert result.rows == 2
    assert group.lineage.ingestions("g")[-1].source == str(out / "part-0.parquet")
    with pytest.raises(ValidationError, match="cannot be read"):
        group.ingest("g", tmp_path / "missing.parquet")


def test_a_missing_file_of_the_users_own_is_a_validation_error(group: FeatureStore, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="query failed"):
        group.query(f"SELECT * FROM read_parquet('{tmp_path / 'nope.parquet'}')")
