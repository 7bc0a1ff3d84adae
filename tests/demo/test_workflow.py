"""The flagship's state machine: it compiles, and its quality gate stops a weak model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podium.asl import compile_definition, execute
from podium.demo.functions import evaluate
from podium.demo.scenario import examples_dir


def definition() -> dict[str, Any]:
    return json.loads((examples_dir() / "workflow.asl.json").read_text())


def test_the_workflow_compiles() -> None:
    compile_definition(definition())


def gate_only() -> dict[str, Any]:
    """Evaluate → QualityGate → BelowQualityBar | Register (replaced by a Succeed state)."""
    states = definition()["States"]
    return {"StartAt": "Evaluate", "States": {
        "Evaluate": states["Evaluate"], "QualityGate": states["QualityGate"],
        "BelowQualityBar": states["BelowQualityBar"], "Register": {"Type": "Succeed"}}}


def run_gate(auc: float, threshold: float) -> Any:
    def invoke(params: dict[str, Any]) -> dict[str, Any]:
        assert params["FunctionName"] == "nightly-evaluate"
        return {"Payload": evaluate(params["Payload"], None), "StatusCode": 200}

    state = {"training": {"metrics": [{"MetricName": "validation:auc", "Value": auc}]}, "threshold": threshold}
    return execute(gate_only(), state, resources={"arn:aws:states:::lambda:invoke": invoke})


def test_a_model_below_the_threshold_fails_the_run_with_the_reason() -> None:
    execution = run_gate(0.58, 0.65)
    assert (execution.status, execution.error) == ("FAILED", "ModelBelowQualityBar")
    assert execution.cause == "validation:auc 0.5800 < threshold 0.6500"


def test_a_good_model_goes_on_to_registration() -> None:
    execution = run_gate(0.7, 0.65)
    assert execution.status == "SUCCEEDED"
    assert execution.output["evaluation"] == {"passed": True, "value": 0.7,
                                              "reason": "validation:auc 0.7000 >= threshold 0.6500"}


def test_examples_folder_has_every_file_the_demo_reads() -> None:
    folder: Path = examples_dir()
    for name in ("workflow.asl.json", "job.json", "recipe.yaml", "feature-groups.json", "delivery.json",
                 "alarm.json", "schedule.json", "train.py", "inference.py", "README.md"):
        assert (folder / name).is_file(), name
