"""Model registry: versions, approval with who/when/why, events, comparison."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podium.config import Settings
from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.models import ModelRegistry, TrainingJobs
from podium.store import Store


@pytest.fixture
def registry(any_store: Store) -> ModelRegistry:
    return ModelRegistry(any_store)


def test_versions_number_up_per_group(registry: ModelRegistry) -> None:
    registry.create_group("propensity", "purchase propensity")
    registry.create_group("churn")
    first = registry.register("propensity", artifact_uri="/m/1.tar.gz", metrics={"auc": 0.7})
    second = registry.register("propensity", artifact_uri="/m/2.tar.gz", metrics={"auc": 0.8})
    other = registry.register("churn", artifact_uri="/m/c.tar.gz")
    assert (first["ModelPackageVersion"], second["ModelPackageVersion"], other["ModelPackageVersion"]) == (1, 2, 1)
    assert first["ModelApprovalStatus"] == "PendingManualApproval"
    assert [v["ModelPackageVersion"] for v in registry.list_versions("propensity")] == [1, 2]
    assert registry.describe_group("propensity")["Versions"] == 2


def test_approval_records_who_when_why_and_emits_events(registry: ModelRegistry) -> None:
    registry.create_group("propensity")
    registry.register("propensity", artifact_uri="/m/1.tar.gz")
    before = registry.events()
    approved = registry.approve("propensity", 1, by="ana", reason="auc above bar")
    assert approved["ModelApprovalStatus"] == "Approved"
    assert approved["ApprovedBy"] == "ana" and approved["ApprovalDescription"] == "auc above bar"
    assert approved["ApprovalTime"] is not None
    rejected = registry.reject("propensity", 1, by="bo", reason="drift found")
    assert rejected["ModelApprovalStatus"] == "Rejected"
    events = registry.events(after_id=before[-1]["id"])
    assert [(e["detail"]["PreviousApprovalStatus"], e["detail"]["ModelApprovalStatus"]) for e in events] == [
        ("PendingManualApproval", "Approved"), ("Approved", "Rejected"),
    ]
    assert events[0]["resources"] == ["propensity/1"]
    # Setting the same status again changes nothing and emits nothing.
    registry.reject("propensity", 1, by="bo")
    assert len(registry.events(after_id=before[-1]["id"])) == 2


def test_latest_approved(registry: ModelRegistry) -> None:
    registry.create_group("g")
    for n in range(3):
        registry.register("g", artifact_uri=f"/m/{n}")
    assert registry.latest_approved("g") is None
    registry.approve("g", 1, by="a")
    registry.approve("g", 2, by="a")
    assert registry.latest_approved("g")["ModelPackageVersion"] == 2


def test_errors_are_clear(registry: ModelRegistry) -> None:
    with pytest.raises(NotFoundError, match="group 'nope'"):
        registry.register("nope", artifact_uri="/x")
    registry.create_group("g")
    with pytest.raises(ConflictError):
        registry.create_group("g")
    assert registry.create_group("g", exist_ok=True)["ModelPackageGroupName"] == "g"
    with pytest.raises(ValidationError, match="artifact_uri"):
        registry.register("g")
    registry.register("g", artifact_uri="/x")
    with pytest.raises(ValidationError, match="approval status"):
        registry.set_approval("g", 1, "Maybe", by="a")
    with pytest.raises(NotFoundError, match="g/9"):
        registry.approve("g", 9, by="a")


def test_compare_side_by_side(registry: ModelRegistry) -> None:
    registry.create_group("g")
    registry.register("g", artifact_uri="/1", metrics={"auc": 0.7}, hyperparameters={"C": "1"})
    registry.register("g", artifact_uri="/2", metrics={"auc": 0.8, "f1": 0.6}, hyperparameters={"C": "2"})
    compared = registry.compare("g/1", "g/2")
    assert compared["metrics"] == [
        {"name": "auc", "g/1": 0.7, "g/2": 0.8},
        {"name": "f1", "g/1": None, "g/2": 0.6},
    ]
    assert compared["hyperparameters"] == [{"name": "C", "g/1": "1", "g/2": "2"}]


def test_register_from_training_job_and_lineage(settings: Settings, store: Store, tmp_path: Path) -> None:
    data = tmp_path / "lake" / "transactions"
    data.mkdir(parents=True)
    (data / "day1.csv").write_text("1,2\n")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import os
        print("validation:auc=0.83")
        open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("m")
    '''))
    jobs = TrainingJobs(settings, store)
    jobs.create({"name": "nightly-1", "entry_point": str(script), "hyperparameters": {"depth": 4},
                 "channels": {"train": str(data)},
                 "metric_definitions": [{"Name": "validation:auc", "Regex": r"validation:auc=([0-9.]+)"}]})
    registry = ModelRegistry(store)
    registry.create_group("propensity")
    version = registry.register("propensity", training_job="nightly-1",
                                inference={"entry_point": "inference.py"})
    assert version["Metrics"] == {"validation:auc": 0.83}
    assert version["HyperParameters"] == {"depth": 4}
    assert version["ArtifactSha256"] and version["ArtifactUri"].endswith("model.tar.gz")

    from podium.models import Lineage
    from podium.models.lineage import flatten

    lineage = Lineage(store)
    [node] = lineage.find("model-version", "propensity/1")
    tree = lineage.upstream(node.id)
    types = [entity.type for entity in flatten(tree)]
    assert types == ["model-version", "model", "training-job", "dataset"]
    assert list(flatten(tree))[-1].uri == str(data)
    down = lineage.downstream(list(flatten(tree))[-1].id)
    assert [e.type for e in flatten(down)] == ["dataset", "training-job", "model", "model-version"]


def test_unfinished_job_cannot_be_registered(settings: Settings, store: Store, tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("raise SystemExit(2)\n")
    TrainingJobs(settings, store).create({"name": "bad", "entry_point": str(script)})
    registry = ModelRegistry(store)
    registry.create_group("g")
    with pytest.raises(ConflictError, match="Failed"):
        registry.register("g", training_job="bad")


def test_examples_signature_and_inference_reference_are_kept(registry: ModelRegistry) -> None:
    registry.create_group("g")
    signature = {"inputs": [{"name": "spend", "type": "double"}], "outputs": [{"type": "long"}]}
    version = registry.register("g", artifact_uri="/m.tar.gz", input_example=[{"spend": 1.5}],
                                output_example=[1], signature=signature,
                                inference={"entry_point": "inference.py", "source_dir": "code"})
    again = registry.describe("g", version["ModelPackageVersion"])
    assert again["InputExample"] == [{"spend": 1.5}] and again["OutputExample"] == [1]
    assert again["Signature"] == signature
    assert again["InferenceSpecification"] == {"entry_point": "inference.py", "source_dir": "code"}
    with pytest.raises(ValidationError, match="unknown key"):
        registry.register("g", artifact_uri="/m.tar.gz", signature={"input": []})
    with pytest.raises(ValidationError, match="signature.inputs"):
        registry.register("g", artifact_uri="/m.tar.gz", signature={"inputs": ["spend"]})
    assert len(registry.list_versions("g")) == 1  # refused registrations left nothing behind
