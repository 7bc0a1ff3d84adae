"""SageMaker Task resources inside real ASL workflows, run by the in-memory interpreter."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from podium.asl import execute
from podium.config import Settings
from podium.errors import ValidationError
from podium.integrations import build_resources
from podium.integrations.sagemaker import training_spec
from podium.models import ModelRegistry
from podium.store import Store

TRAIN = textwrap.dedent('''
    import os, sys
    auc = float(os.environ.get("SM_HP_TARGET_AUC", "0.8"))
    print(f"validation:auc={auc}")
    if os.environ.get("SM_HP_FAIL") == "yes":
        sys.exit("training data is empty")
    open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("m")
''')

WORKFLOW = {
    "StartAt": "Train",
    "States": {
        "Train": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": "$.job",
                "AlgorithmSpecification": {
                    "TrainingImage": "ignored-locally",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "validation:auc", "Regex": "validation:auc=([0-9.]+)"}],
                },
                "HyperParameters": {
                    "sagemaker_program": "\"train.py\"",
                    "sagemaker_submit_directory.$": "$.code",
                    "target_auc.$": "$.auc",
                    "fail.$": "$.fail",
                },
                "InputDataConfig": [{"ChannelName": "train",
                                     "DataSource": {"S3DataSource": {"S3Uri.$": "$.data"}}}],
                "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            },
            "ResultSelector": {
                "auc.$": "$.FinalMetricDataList[0].Value",
                "artifact.$": "$.ModelArtifacts.S3ModelArtifacts",
                "job.$": "$.TrainingJobName",
            },
            "ResultPath": "$.training",
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "TrainingFailed"}],
            "Next": "GoodEnough",
        },
        "GoodEnough": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.training.auc", "NumericGreaterThanEquals": 0.75, "Next": "Register"}],
            "Default": "BelowBar",
        },
        "Register": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createModelPackage",
            "Parameters": {
                "ModelPackageGroupName": "propensity",
                "ModelApprovalStatus": "PendingManualApproval",
                "TrainingJobName.$": "$.training.job",
                "InferenceSpecification": {"Containers": [{"ModelDataUrl.$": "$.training.artifact"}]},
            },
            "ResultPath": "$.package",
            "Next": "Approve",
        },
        "Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::podium:models.approve",
            "Parameters": {"ModelPackage.$": "$.package.ModelPackage", "By": "nightly-workflow",
                           "Reason": "validation:auc above the bar"},
            "End": True,
        },
        "BelowBar": {"Type": "Fail", "Error": "ModelBelowQualityBar", "Cause": "validation:auc < 0.75"},
        "TrainingFailed": {"Type": "Fail", "Error": "TrainingFailed", "Cause": "the training job failed"},
    },
}


@pytest.fixture
def setup(settings: Settings, store: Store, tmp_path: Path) -> tuple[dict, Path, Path]:  # type: ignore[type-arg]
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-0.csv").write_text("1,0\n")
    return build_resources(settings, store), code, data


def run(resources, code: Path, data: Path, job: str, auc: str, fail: str = "no"):  # type: ignore[no-untyped-def]
    return execute(WORKFLOW, {"job": job, "code": str(code), "data": str(data), "auc": auc, "fail": fail},
                   resources=resources)


def test_train_check_register_approve(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    resources, code, data = setup
    execution = run(resources, code, data, "nightly-1", "0.83")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"ModelPackage": "propensity/1", "ModelApprovalStatus": "Approved"}
    version = ModelRegistry(store).describe("propensity", 1)
    assert version["Metrics"] == {"validation:auc": 0.83}
    assert version["ApprovedBy"] == "nightly-workflow"
    assert version["HyperParameters"] == {"target_auc": "0.83", "fail": "no"}


def test_below_bar_fails_with_a_clear_reason(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    resources, code, data = setup
    execution = run(resources, code, data, "nightly-2", "0.6")
    assert (execution.status, execution.error) == ("FAILED", "ModelBelowQualityBar")
    assert ModelRegistry(store).list_groups() == []


def test_failed_training_is_states_task_failed_with_description(setup) -> None:  # type: ignore[no-untyped-def]
    resources, code, data = setup
    execution = run(resources, code, data, "nightly-3", "0.9", fail="yes")
    assert (execution.status, execution.error) == ("FAILED", "TrainingFailed")
    failed = [e for e in execution.events if e["type"] == "TaskFailed"]
    assert len(failed) == 1
    assert failed[0]["details"]["error"] == "States.TaskFailed"


def test_training_spec_from_sdk_style_parameters() -> None:
    spec = training_spec({
        "TrainingJobName": "j",
        "HyperParameters": {"sagemaker_program": "\"train.py\"", "sagemaker_submit_directory": "/code",
                            "epochs": "3"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "/data"}}}],
        "CheckpointConfig": {"S3Uri": "/ckpt"},
    })
    assert spec["entry_point"] == "train.py" and spec["source_dir"] == "/code"
    assert spec["hyperparameters"] == {"epochs": "3"}
    assert spec["channels"] == {"train": "/data"} and spec["checkpoint_dir"] == "/ckpt"
    with pytest.raises(ValidationError, match="sagemaker_program"):
        training_spec({"TrainingJobName": "j"})


def test_task_failed_cause_is_the_job_description(setup) -> None:  # type: ignore[no-untyped-def]
    resources, code, data = setup
    definition = {"StartAt": "T", "States": {"T": {**WORKFLOW["States"]["Train"], "End": True}}}
    definition["States"]["T"].pop("Catch")
    definition["States"]["T"].pop("Next")
    execution = execute(definition, {"job": "nightly-4", "code": str(code), "data": str(data), "auc": "0.9",
                                     "fail": "yes"}, resources=resources)
    assert (execution.status, execution.error) == ("FAILED", "States.TaskFailed")
    cause = json.loads(execution.cause)
    assert cause["TrainingJobStatus"] == "Failed"
    assert "training data is empty" in cause["FailureReason"]
