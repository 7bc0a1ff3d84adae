"""Feature store Task resources (SageMaker PutRecord, Podium ingest and training sets) in workflows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from podium.asl import execute
from podium.config import Settings
from podium.features import FeatureStore
from podium.integrations import build_resources
from podium.store import Store

PUT = "arn:aws:states:::aws-sdk:sagemakerfeaturestoreruntime:putRecord"


def task(resource: str, parameters: dict) -> dict:  # type: ignore[type-arg]
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                             "End": True}}}


@pytest.fixture
def features(settings: Settings, store: Store) -> FeatureStore:
    fs = FeatureStore(settings, store)
    fs.create_group("users", record_identifiers="user_id", event_time="ts",
                    features={"user_id": "int64", "ts": "timestamp", "spend": "float64", "vip": "bool"})
    yield fs
    fs.close()


def test_put_record_converts_strings_to_declared_types(settings: Settings, store: Store,
                                                      features: FeatureStore) -> None:
    record = [{"FeatureName": "user_id", "ValueAsString": "7"},
              {"FeatureName": "ts", "ValueAsString": "2026-01-05T10:00:00Z"},
              {"FeatureName": "spend", "ValueAsString": "12.5"},
              {"FeatureName": "vip", "ValueAsString": "true"}]
    execution = execute(task(PUT, {"FeatureGroupName": "users", "Record": record}), {},
                        resources=build_resources(settings, store))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {}
    stored = features.get_record("users", 7)
    assert stored is not None and stored["spend"] == 12.5 and stored["vip"] is True


def test_put_record_rejects_a_value_of_the_wrong_type(settings: Settings, store: Store,
                                                      features: FeatureStore) -> None:
    record = [{"FeatureName": "user_id", "ValueAsString": "seven"},
              {"FeatureName": "ts", "ValueAsString": "2026-01-05T10:00:00Z"}]
    execution = execute(task(PUT, {"FeatureGroupName": "users", "Record": record}), {},
                        resources=build_resources(settings, store))
    assert execution.status == "FAILED"
    assert "Record[0]" in (execution.cause or "") and "int64" in (execution.cause or "")


def test_ingest_from_parquet_then_point_in_time_training_set(settings: Settings, store: Store,
                                                             features: FeatureStore, tmp_path: Path) -> None:
    rows = pd.DataFrame({"user_id": [1, 1, 2], "spend": [1.0, 2.0, 5.0], "vip": [False, True, False],
                         "ts": pd.to_datetime(["2026-01-01", "2026-01-03", "2026-01-02"], utc=True)})
    source = tmp_path / "users.parquet"
    rows.to_parquet(source)
    resources = build_resources(settings, store)
    ingested = execute(task("arn:aws:states:::podium:features.ingest",
                            {"FeatureGroupName": "users", "Source": str(source)}), {}, resources=resources)
    assert ingested.status == "SUCCEEDED", (ingested.error, ingested.cause)
    assert ingested.output["Rows"] == 3 and ingested.output["FeatureGroupName"] == "users"

    entity = pd.DataFrame({"user_id": [1, 1, 3], "label": [0, 1, 1],
                           "at": pd.to_datetime(["2026-01-02", "2026-01-04", "2026-01-04"], utc=True)})
    entity_path = tmp_path / "entity.parquet"
    entity.to_parquet(entity_path)
    output = tmp_path / "out" / "train.parquet"
    built = execute(task("arn:aws:states:::podium:features.trainingSet",
                         {"Entity": str(entity_path), "Features": ["users:spend"], "Timestamp": "at",
                          "Output": str(output)}), {}, resources=resources)
    assert built.status == "SUCCEEDED", (built.error, built.cause)
    assert built.output["Rows"] == 3 and built.output["StatusCounts"]["users__status"] == {"ok": 2, "no_data": 1, "expired": 0, "deleted": 0}
    table = pd.read_parquet(output)
    assert table["spend"].tolist()[:2] == [1.0, 2.0] and pd.isna(table["spend"].iloc[2])


def test_ingest_needs_exactly_one_source(settings: Settings, store: Store, features: FeatureStore) -> None:
    execution = execute(task("arn:aws:states:::podium:features.ingest", {"FeatureGroupName": "users"}), {},
                        resources=build_resources(settings, store))
    assert execution.status == "FAILED" and "Source" in (execution.cause or "")


def test_ingest_from_a_catalog_table_and_a_batch_run(settings: Settings, store: Store,
                                                    features: FeatureStore, tmp_path: Path) -> None:
    from podium.catalog import crawl
    from podium.ingest.batch.jobs import create_job, parse_job
    from podium.ingest.batch.runner import run_job

    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"uid": [1, 2], "spend": [1.0, 2.0],
                  "ts": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)}).to_parquet(raw / "a.parquet")
    crawl(store, str(raw), name="raw_users")
    resources = build_resources(settings, store)
    ingested = execute(task("arn:aws:states:::podium:features.ingest",
                            {"FeatureGroupName": "users", "CatalogTable": "raw_users",
                             "Columns": {"user_id": "uid"}, "Where": "spend > 1"}), {}, resources=resources)
    assert ingested.status == "SUCCEEDED", (ingested.error, ingested.cause)
    assert ingested.output["Rows"] == 1

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.csv").write_text("user_id,ts,spend\n3,2026-01-03T00:00:00Z,3.0\n")
    create_job(store, parse_job({"name": "users-job", "source": {"path": str(incoming)},
                                 "output": {"dataset": "users_out"}}))
    run = run_job(settings, store, "users-job")
    for params in ({"JobRunId": run.run_id}, {"JobName": "users-job"}):
        done = execute(task("arn:aws:states:::podium:features.ingest", {"FeatureGroupName": "users", **params}),
                       {}, resources=resources)
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        assert done.output["Rows"] == 1
    assert sorted(r["user_id"] for r in features.query("SELECT user_id FROM users").to_pylist()) == [2, 3, 3]
    both = execute(task("arn:aws:states:::podium:features.ingest",
                        {"FeatureGroupName": "users", "CatalogTable": "raw_users", "JobName": "users-job"}),
                   {}, resources=resources)
    assert both.status == "FAILED" and "exactly one" in (both.cause or "")
