"""Lineage actions recorded from other packages' records: the workflow execution whose Task ran a
training job, and each endpoint deployment between the model versions it served and the endpoint."""

from __future__ import annotations

import json
import os
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.config import Settings
from podium.models import Lineage, LineageNode, ModelRegistry
from podium.models.lineage import flatten
from podium.store import Store

TRAIN = textwrap.dedent('''
    import os
    print("validation:auc=0.91")
    open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("m")
''')


def workflow(code: Path, data: Path) -> dict:
    return {"StartAt": "Train", "States": {"Train": {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName.$": "$.job",
            "AlgorithmSpecification": {"TrainingImage": "ignored-locally", "TrainingInputMode": "File"},
            "HyperParameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": str(code)},
            "InputDataConfig": [{"ChannelName": "train",
                                 "DataSource": {"S3DataSource": {"S3Uri": str(data)}}}],
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        },
        "End": True,
    }}}


def paths(node: LineageNode, prefix: tuple = ()) -> Iterator[tuple]:
    """Every root-to-leaf path as ((association, type, name), ...)."""
    here = (*prefix, (node.association, node.entity.type, node.entity.name))
    if not node.children:
        yield here
    for child in node.children:
        yield from paths(child, here)


def test_workflow_execution_that_ran_the_training_job_is_upstream_of_the_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, data = tmp_path / "code", tmp_path / "data"
    code.mkdir()
    data.mkdir()
    (code / "train.py").write_text(TRAIN)
    (data / "rows.csv").write_text("x\n1\n")
    settings = Settings.for_home(tmp_path / "home")
    with podium.Podium(settings=settings) as pod:
        pod.workflows.create_state_machine("nightly", workflow(code, data))
        ran = pod.workflows.start_execution("nightly", {"job": "nightly-train-1"})
        other = pod.workflows.start_execution("nightly", {"job": "nightly-train-2"})
        pod.worker(poll_interval=0.02).run_until_done([ran.arn, other.arn])
        registry = ModelRegistry(pod.store)
        registry.create_group("nightly")
        assert registry.register("nightly", training_job="nightly-train-1")["ModelPackage"] == "nightly/1"

        lineage = Lineage(pod.store)
        [version] = lineage.find("model-version", "nightly/1")
        tree = lineage.upstream(version.id)
        up = set(paths(tree))
        chain = [(None, "model-version", "nightly/1")]
        [job] = [n for n in flatten(tree) if n.type == "training-job"]
        assert job.name == "nightly-train-1"
        executions = [p[-1] for p in up if p[-1][1] == "workflow-execution"]
        # Exactly the execution that ran this job, linked to the job (not to the other run's).
        assert executions == [("AssociatedWith", "workflow-execution", ran.arn)]
        [path] = [p for p in up if p[-1][1] == "workflow-execution"]
        assert [step[1] for step in path] == ["model-version", "model", "training-job", "workflow-execution"]
        assert path[0] == chain[0]
        [node] = [n for n in flatten(tree) if n.type == "workflow-execution"]
        assert node.kind == "action"
        assert node.properties["state_machine"] == "nightly"
        assert node.properties["execution"] == ran.arn.rsplit(":", 1)[-1]

        # The other execution's job is downstream of that execution only.
        [other_node] = lineage.find("workflow-execution", other.arn)
        down = lineage.downstream(other_node.id)
        assert [(c.association, c.entity.type, c.entity.name) for c in down.children] == [
            ("AssociatedWith", "training-job", "nightly-train-2")
        ]
        assert lineage.sync() == 0  # harvesting again adds nothing

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(settings.home))
    shown = CliRunner().invoke(app, ["--json", "lineage", "show", "nightly/1", "--direction", "upstream"])
    assert shown.exit_code == 0, shown.output
    assert ran.arn in json.dumps(json.loads(shown.stdout))


def pack_model(folder: Path) -> Path:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 2))
    model_dir = folder / "model"
    model_dir.mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), model_dir / "model.joblib")
    artifact = folder / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(model_dir / "model.joblib", arcname="model.joblib")
    return artifact


def broken_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    artifact = folder / "model.tar.gz"
    artifact.write_bytes(b"this is no tar archive")
    return artifact


def test_deployments_sit_between_the_version_and_the_endpoint(settings: Settings, store: Store,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from podium.serving import EndpointService, Router

    registry = ModelRegistry(store)
    registry.create_group("churn")
    good = pack_model(tmp_path / "good")
    for artifact in (good, good, broken_model(tmp_path / "broken")):
        registry.register("churn", artifact_uri=str(artifact))
    service = EndpointService(settings, store, Router(), drain_timeout=5)
    try:
        for n in (1, 2, 3):
            service.create_endpoint_config(f"cfg-{n}", [{"VariantName": "AllTraffic", "ModelVersion": f"churn/{n}"}])
        service.create_endpoint("ep", "cfg-1")
        service.update_endpoint("ep", "cfg-2", wait=True)
        service.update_endpoint("ep", "cfg-3", wait=True)
        created, *updates = service.deployments("ep")
        outcomes = [d["outcome"] for d in updates]
        ids = [d["id"] for d in updates]
    finally:
        service.shutdown()
    assert (created["from"], created["to"], created["outcome"]) == (None, "cfg-1", "Succeeded")
    assert outcomes == ["Succeeded", "Failed"]

    lineage = Lineage(store)
    [v2] = lineage.find("model-version", "churn/2")
    # Serving links a version it put in service straight to the endpoint too; the deployment
    # node is the second way there, with the story of how it got there.
    children = lineage.downstream(v2.id).children
    assert ("DeployedAs", "endpoint", "ep") in {(c.association, c.entity.type, c.entity.name) for c in children}
    [deployment] = [c for c in children if c.entity.type == "endpoint-deployment"]
    assert (deployment.association, deployment.entity.type, deployment.entity.name) == (
        "ContributedTo", "endpoint-deployment", f"ep/{ids[0]}")
    assert deployment.entity.kind == "action"
    props = deployment.entity.properties
    assert (props["outcome"], props["from_config"], props["to_config"]) == ("Succeeded", "cfg-1", "cfg-2")
    assert props["model_versions"] == ["churn/2"] and props["replaced_model_versions"] == ["churn/1"]
    assert [(c.association, c.entity.type, c.entity.name) for c in deployment.children] == [
        ("DeployedAs", "endpoint", "ep")
    ]

    [v3] = lineage.find("model-version", "churn/3")
    [failed] = lineage.downstream(v3.id).children
    assert failed.entity.properties["outcome"] == "Failed" and failed.entity.properties["reason"]
    # A deployment that did not stay never links the version to the endpoint as deployed.
    assert [(c.association, c.entity.name) for c in failed.children] == [("AssociatedWith", "ep")]

    [endpoint] = lineage.find("endpoint", "ep")
    upstream = {(c.association, c.entity.type, c.entity.name) for c in lineage.upstream(endpoint.id).children}
    assert {("DeployedAs", "endpoint-deployment", f"ep/{ids[0]}"),
            ("AssociatedWith", "endpoint-deployment", f"ep/{ids[1]}")} <= upstream
    assert lineage.sync() == 0

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(settings.home))
    text = CliRunner().invoke(app, ["lineage", "show", "churn/3", "--direction", "downstream"],
                              env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert f"endpoint-deployment: ep/{ids[1]} (Failed)" in text.stdout
    shown = CliRunner().invoke(app, ["--json", "lineage", "show", "churn/2", "--direction", "downstream"])
    assert shown.exit_code == 0, shown.output
    nodes = json.loads(shown.stdout)["children"]
    assert [n["properties"]["outcome"] for n in nodes if n["type"] == "endpoint-deployment"] == ["Succeeded"]


def test_workflow_execution_links_the_batch_run_and_feature_ingestion_it_ran(
        tmp_path: Path) -> None:
    from podium.ingest.batch.jobs import create_job, parse_job

    raw = tmp_path / "incoming"
    raw.mkdir()
    (raw / "day1.csv").write_text("customer_id,ts,spend\n" + "".join(
        f"{c},2026-01-01 0{c}:00:00,{c * 1.5}\n" for c in range(1, 6)))
    settings = Settings.for_home(tmp_path / "home")
    with podium.Podium(settings=settings) as pod:
        create_job(pod.store, parse_job({"name": "daily", "source": {"path": str(raw)},
                                         "output": {"dataset": "customers"}}))
        pod.features.create_group("customers", record_identifiers="customer_id", event_time="ts",
                                  features={"customer_id": "int64", "ts": "timestamp", "spend": "float64"})
        pod.workflows.create_state_machine("load", {"StartAt": "Batch", "States": {
            "Batch": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                      "Parameters": {"JobName": "daily"}, "ResultPath": "$.run", "Next": "Ingest"},
            "Ingest": {"Type": "Task", "Resource": "arn:aws:states:::podium:features.ingest",
                       "Parameters": {"FeatureGroupName": "customers", "JobRunId.$": "$.run.Id"},
                       "End": True},
        }})
        ran = pod.workflows.start_execution("load", {})
        pod.worker(poll_interval=0.02).run_until_done([ran.arn])
        described = pod.workflows.describe_execution(ran.arn)
        assert described.status == "SUCCEEDED", (described.error, described.cause)

        lineage = Lineage(pod.store)
        [execution] = lineage.find("workflow-execution", ran.arn)
        down = lineage.downstream(execution.id, max_depth=1)
        assert sorted((c.association, c.entity.type) for c in down.children) == [
            ("AssociatedWith", "batch-job-run"), ("AssociatedWith", "feature-ingestion")
        ]
        [group] = lineage.find("feature-group", "customers")
        up = {e.type: e for e in flatten(lineage.upstream(group.id))}
        assert up["workflow-execution"].name == ran.arn
