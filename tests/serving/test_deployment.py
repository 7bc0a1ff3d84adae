"""Deployment plans from SageMaker DeploymentConfig documents."""

from __future__ import annotations

import pytest

from podium.errors import ValidationError
from podium.serving.deployment import plan


def policy(routing: dict, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, **extra},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "5xx"}]}}


def test_default_is_all_at_once_without_baking() -> None:
    result = plan(None, 2)
    assert result.type == "ALL_AT_ONCE"
    assert [(s.green_share, s.bake_seconds) for s in result.steps] == [(1.0, 0)]
    assert result.alarms == ()


def test_canary_then_final_bake() -> None:
    result = plan(policy({"Type": "CANARY", "WaitIntervalInSeconds": 30,
                          "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}},
                         TerminationWaitInSeconds=60), 4)
    assert [(s.green_share, s.bake_seconds) for s in result.steps] == [(0.25, 30), (1.0, 30)]
    assert result.termination_wait_seconds == 60 and result.alarms == ("5xx",)


def test_canary_by_instance_count() -> None:
    result = plan(policy({"Type": "CANARY", "WaitIntervalInSeconds": 0,
                          "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}), 4)
    assert result.steps[0].green_share == 0.25


def test_linear_steps_reach_all_traffic() -> None:
    result = plan(policy({"Type": "LINEAR", "WaitIntervalInSeconds": 10,
                          "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 30}}), 10)
    assert [s.green_share for s in result.steps] == [0.3, 0.6, 0.9, 1.0]


@pytest.mark.parametrize(("routing", "message"), [
    ({"Type": "CANARY", "WaitIntervalInSeconds": 1, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 60}},
     "at most 50%"),
    ({"Type": "LINEAR", "WaitIntervalInSeconds": 1, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5}},
     "10% to 50%"),
    ({"Type": "SOMETIMES", "WaitIntervalInSeconds": 1}, "Type must be"),
    ({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 4000}, "0..3600"),
])
def test_invalid_policies_are_rejected(routing: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=message):
        plan(policy(routing), 2)


def test_timeout_must_exceed_waits() -> None:
    with pytest.raises(ValidationError, match="MaximumExecutionTimeoutInSeconds"):
        plan(policy({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
                    MaximumExecutionTimeoutInSeconds=600), 1)
