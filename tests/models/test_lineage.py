"""Lineage from raw input files to the model version and its endpoint, through every producer:
batch job run -> lake table -> feature group ingestion -> training set -> training job ->
model version -> endpoint. Each hop is made by the package that owns it, as a user would."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from podium.cli.main import app
from podium.config import Settings
from podium.errors import ValidationError
from podium.features import FeatureStore
from podium.ingest.batch.jobs import create_job, parse_job
from podium.ingest.batch.runner import run_job
from podium.models import Lineage, LineageNode, ModelRegistry, TrainingJobs
from podium.models.lineage import canonical_uri, flatten
from podium.store import Store

FEATURES = {"customer_id": "int64", "ts": "timestamp", "spend": "float64", "visits": "int64"}

TRAIN = textwrap.dedent('''
    import os
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    data = pd.read_parquet(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.parquet"))
    X, y = data[["spend", "visits"]].fillna(0), data["label"]
    model = LogisticRegression().fit(X, y)
    print(f"train:accuracy={model.score(X, y):.4f}")
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
''')


def write_raw(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    files = []
    for day in (1, 2):
        path = folder / f"day{day}.csv"
        rows = "".join(
            f"{c},2026-01-0{day} 0{c % 9}:00:00,{c * 1.5 + day},{(c * day) % 7}\n" for c in range(1, 21)
        )
        path.write_text("customer_id,ts,spend,visits\n" + rows)
        files.append(path)
    return files


def batch_job(settings: Settings, store: Store, raw: Path) -> str:
    create_job(store, parse_job({
        "name": "customers-daily", "source": {"path": str(raw)}, "output": {"dataset": "customers"},
    }))
    return run_job(settings, store, "customers-daily").run_id


def paths(node: LineageNode, prefix: tuple[tuple[str, str], ...] = ()) -> Iterator[tuple[tuple[str, str], ...]]:
    """Every root-to-leaf path as ((type, name), ...)."""
    here = (*prefix, (node.entity.type, node.entity.name))
    if not node.children:
        yield here
    for child in node.children:
        yield from paths(child, here)


@pytest.fixture
def features(settings: Settings, store: Store) -> Iterator[FeatureStore]:
    fs = FeatureStore(settings, store)
    fs.create_group("customers", record_identifiers="customer_id", event_time="ts", features=FEATURES)
    yield fs
    fs.close()


def test_lineage_from_raw_files_to_endpoint(settings: Settings, store: Store, features: FeatureStore,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw_files = write_raw(tmp_path / "incoming")
    run_id = batch_job(settings, store, tmp_path / "incoming")
    ingested = features.ingest_catalog_table("customers", "customers")

    entity = tmp_path / "labels.parquet"
    pd.DataFrame({
        "customer_id": list(range(1, 21)),
        "event_timestamp": pd.Timestamp("2026-01-03", tz="UTC"),
        "label": [c % 2 for c in range(1, 21)],
    }).to_parquet(entity)
    channel = tmp_path / "channel"
    channel.mkdir()
    features.training_set(str(entity), ["customers:spend", "customers:visits"],
                          output=str(channel / "train.parquet"))
    # A write after the training set was built cannot be in the model's lineage.
    later = features.ingest("customers", pd.DataFrame({
        "customer_id": [1], "ts": [pd.Timestamp("2026-01-04", tz="UTC")], "spend": [9.0], "visits": [1],
    }))

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(TRAIN)
    job = TrainingJobs(settings, store).create({
        "name": "churn-1", "entry_point": str(script), "channels": {"train": str(channel)},
        "metric_definitions": [{"Name": "train:accuracy", "Regex": r"train:accuracy=([0-9.]+)"}],
    })
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    registry = ModelRegistry(store)
    registry.create_group("churn")
    version = registry.register("churn", training_job="churn-1")
    assert version["ModelPackage"] == "churn/1"

    from podium.serving import EndpointService, Router

    service = EndpointService(settings, store, Router(), drain_timeout=5)
    try:
        service.create_endpoint_config("churn-cfg", [{"VariantName": "AllTraffic", "ModelVersion": "churn/1"}])
        service.create_endpoint("churn-ep", "churn-cfg")
    finally:
        service.shutdown()

    lineage = Lineage(store)
    [node] = lineage.find("model-version", "churn/1")
    tree = lineage.upstream(node.id)
    lake_dataset = canonical_uri(f"{settings.lake_url}/customers")
    expected_chain = [
        ("model-version", "churn/1"),
        ("model", job["ModelArtifacts"]["S3ModelArtifacts"]),
        ("training-job", "churn-1"),
        ("dataset", str(channel.resolve())),
        ("training-set", str((channel / "train.parquet").resolve())),
        ("feature-group-snapshot", f"customers@{ingested.ingestion_id}"),
        ("feature-ingestion", f"customers/{ingested.ingestion_id}"),
        ("dataset", lake_dataset),
        ("batch-job-run", run_id),
    ]
    to_raw = sorted(p for p in paths(tree) if p[-1][0] == "file")
    assert to_raw == [(*expected_chain, ("file", str(f.resolve()))) for f in raw_files]
    # The entity rows are the training set's other input.
    assert (*expected_chain[:5], ("dataset", str(entity.resolve()))) in set(paths(tree))

    found = {e.type: e for e in flatten(tree)}
    assert found["model"].properties["sha256"] == version["ArtifactSha256"] == job["ModelArtifacts"]["Sha256"]
    assert found["dataset"].uri is not None
    assert found["batch-job-run"].properties["job"] == "customers-daily"
    assert found["feature-group-snapshot"].properties["last_ingestion_id"] == ingested.ingestion_id
    assert f"customers/{later.ingestion_id}" not in {e.name for e in flatten(tree)}

    # Downstream from one raw file reaches the endpoint serving the model.
    [raw] = lineage.find("file", str(raw_files[0]))
    down = [p for p in paths(lineage.downstream(raw.id)) if p[-1][0] == "endpoint"]
    assert down == [(("file", str(raw_files[0].resolve())), *reversed(expected_chain), ("endpoint", "churn-ep"))]

    # The CLI prints the same tree.
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(settings.home))
    shown = CliRunner().invoke(app, ["--json", "lineage", "show", "churn/1"])
    assert shown.exit_code == 0, shown.output
    both = json.loads(shown.stdout)
    assert both["upstream"] == json.loads(json.dumps(tree.to_dict(), default=str))
    assert [(c["association"], c["type"], c["name"]) for c in both["downstream"]["children"]] == [
        ("DeployedAs", "endpoint", "churn-ep")
    ]
    text = CliRunner().invoke(app, ["lineage", "show", "churn/1"], env={"COLUMNS": "300"})
    assert text.exit_code == 0, text.output
    for line in ("batch-job-run: " + run_id, "file: " + str(raw_files[1].resolve()), "endpoint: churn-ep"):
        assert line in text.stdout


@pytest.mark.parametrize("how", ["parquet-folder", "batch-run"])
def test_other_ways_of_loading_a_lake_table_link_the_same_dataset(
    how: str, settings: Settings, store: Store, features: FeatureStore, tmp_path: Path
) -> None:
    write_raw(tmp_path / "incoming")
    run_id = batch_job(settings, store, tmp_path / "incoming")
    if how == "parquet-folder":
        ingested = features.ingest("customers", f"{settings.lake_url}/customers")
    else:
        ingested = features.ingest_batch_output("customers", job="customers-daily")
    lineage = Lineage(store)
    [ingestion] = lineage.find("feature-ingestion", f"customers/{ingested.ingestion_id}")
    tree = lineage.upstream(ingestion.id)
    assert [(n.entity.type, n.entity.name) for n in tree.children] == [
        ("dataset", canonical_uri(f"{settings.lake_url}/customers"))
    ]
    assert [n.entity.name for n in tree.children[0].children] == [run_id]


def test_harvest_is_idempotent_and_ignores_in_process_writes(
    settings: Settings, store: Store, features: FeatureStore
) -> None:
    features.ingest("customers", pd.DataFrame({
        "customer_id": [1], "ts": [pd.Timestamp("2026-01-04", tz="UTC")], "spend": [1.0], "visits": [2],
    }))
    features.put_record("customers", {"customer_id": 2, "ts": "2026-01-04T00:00:00+00:00", "spend": 2.0,
                                      "visits": 1})
    lineage = Lineage(store)
    assert lineage.sync() > 0
    assert lineage.sync() == 0
    ingestions = lineage.find("feature-ingestion", sync=False)
    assert [e.properties["source"] for e in ingestions] == ["python"]  # put_record is no bulk load
    assert lineage.upstream(ingestions[0].id).children == []


def test_model_registered_from_a_plain_artifact_has_a_short_lineage(store: Store) -> None:
    registry = ModelRegistry(store)
    registry.create_group("g")
    registry.register("g", artifact_uri="/models/m.tar.gz")
    lineage = Lineage(store)
    [node] = lineage.find("model-version", "g/1")
    chain: list[Any] = [(e.type, e.name) for e in flatten(lineage.upstream(node.id))]
    assert chain == [("model-version", "g/1"), ("model", "/models/m.tar.gz")]


def test_catalog_table_channel_is_materialised_and_linked_to_its_batch_run(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    raw_files = write_raw(tmp_path / "incoming")
    run_id = batch_job(settings, store, tmp_path / "incoming")
    script = tmp_path / "count.py"
    script.write_text(textwrap.dedent('''
        import os
        import pyarrow.parquet as pq
        folder = os.environ["SM_CHANNEL_TRAIN"]
        print("files=" + ",".join(sorted(os.listdir(folder))))
        print(f"rows={pq.read_table(os.path.join(folder, 'customers.parquet')).num_rows}")
        open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("m")
    '''))
    jobs = TrainingJobs(settings, store)
    job = jobs.create({"name": "from-table", "entry_point": str(script),
                       "channels": {"train": "catalog:customers"},
                       "metric_definitions": [{"Name": "rows", "Regex": r"rows=([0-9]+)"}]})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "files=customers.parquet" in jobs.logs("from-table")
    assert job["FinalMetricDataList"][0]["Value"] == 40  # 20 rows per raw file

    lineage = Lineage(store)
    [model] = lineage.find("model", job["ModelArtifacts"]["S3ModelArtifacts"])
    chains = sorted(paths(lineage.upstream(model.id)))
    lake_dataset = canonical_uri(f"{settings.lake_url}/customers")
    assert chains == [
        (("model", model.name), ("training-job", "from-table"), ("dataset", lake_dataset),
         ("batch-job-run", run_id), ("file", str(f.resolve())))
        for f in raw_files
    ]


def test_missing_catalog_table_fails_the_job_with_its_name(settings: Settings, store: Store,
                                                            tmp_path: Path) -> None:
    script = tmp_path / "noop.py"
    script.write_text("print('never runs')\n")
    job = TrainingJobs(settings, store).create({"name": "no-table", "entry_point": str(script),
                                                "channels": {"train": "catalog:nope"}})
    assert job["TrainingJobStatus"] == "Failed"
    assert "nope" in job["FailureReason"] and job["FailureReason"].startswith("ClientError")


def test_merge_and_walk_on_every_store(any_store: Store) -> None:
    from podium.models.lineage import NewEntity

    lineage = Lineage(any_store)
    # 1,200 chains of three: more ids than one IN (...) slice holds.
    entities = [NewEntity("artifact", "level", f"c{c}/{d}") for c in range(1200) for d in range(3)]
    edges = [(entities[i].id, entities[i + 1].id, "ContributedTo")
             for i in range(0, len(entities), 3) for i in (i, i + 1)]
    assert lineage.merge(entities, edges) == 3600 + 2400
    assert lineage.merge(entities, edges) == 0
    shared = NewEntity("artifact", "level", "shared")
    assert lineage.merge([shared], [(entities[i].id, shared.id, "DerivedFrom") for i in range(0, 3600, 3)]) == 1201
    up = lineage.upstream(shared.id, sync=False)
    assert len(up.children) == 1200 and all(c.association == "DerivedFrom" for c in up.children)
    down = lineage.downstream(entities[0].id, sync=False)
    assert sorted((c.entity.name, c.association) for c in down.children) == [
        ("c0/1", "ContributedTo"), ("shared", "DerivedFrom")
    ]
    assert [c.entity.name for c in down.children[0].children] == ["c0/2"]
    with pytest.raises(ValidationError, match="association type"):
        lineage.merge([], [(entities[0].id, entities[1].id, "FedInto")])
