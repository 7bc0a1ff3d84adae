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


def rolling(batch: dict, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"RollingUpdatePolicy": {"MaximumBatchSize": batch, "WaitIntervalInSeconds": 5, **extra},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "5xx"}]}}


def test_rolling_batches_by_instance_count_and_percent() -> None:
    by_count = plan(rolling({"Type": "INSTANCE_COUNT", "Value": 1}), 4)
    assert by_count.rolling and by_count.type == "ROLLING"
    assert [(s.green_share, s.bake_seconds) for s in by_count.steps] == [(0.25, 5), (0.5, 5), (0.75, 5), (1.0, 5)]
    assert by_count.rollback_batch == 1.0 and by_count.alarms == ("5xx",)
    by_percent = plan(rolling({"Type": "CAPACITY_PERCENT", "Value": 40}), 10)
    assert [s.green_share for s in by_percent.steps] == [0.4, 0.8, 1.0]


def test_rolling_rollback_batch_is_a_part_of_the_old_fleet() -> None:
    result = plan(rolling({"Type": "INSTANCE_COUNT", "Value": 1},
                          RollbackMaximumBatchSize={"Type": "INSTANCE_COUNT", "Value": 1}), 2, 4)
    assert result.rollback_batch == 0.25
    assert plan(rolling({"Type": "CAPACITY_PERCENT", "Value": 50},
                        RollbackMaximumBatchSize={"Type": "CAPACITY_PERCENT", "Value": 50}), 2).rollback_batch == 0.5


@pytest.mark.parametrize(("config", "message"), [
    (rolling({"Type": "INSTANCE_COUNT", "Value": 1}), "5% to 50%"),  # 1 of 1 instance is 100%
    (rolling({"Type": "CAPACITY_PERCENT", "Value": 60}), "5% to 50%"),
    (rolling({"Type": "PERCENT", "Value": 10}), "MaximumBatchSize must be"),
    ({"RollingUpdatePolicy": {"WaitIntervalInSeconds": 1}}, "MaximumBatchSize is required"),
    ({"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50}}},
     "WaitIntervalInSeconds must be 0..3600"),
    (rolling({"Type": "CAPACITY_PERCENT", "Value": 50}, MaximumExecutionTimeoutInSeconds=10), "must exceed"),
    ({**rolling({"Type": "CAPACITY_PERCENT", "Value": 50}),
      "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE"}}}, "not both"),
    ({**rolling({"Type": "CAPACITY_PERCENT", "Value": 50}), "AutoRollbackConfiguration": {"Alarms": ["5xx"]}},
     "AlarmName"),
])
def test_invalid_rolling_policies_are_rejected(config: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=message):
        plan(config, 1 if "INSTANCE_COUNT" in str(config) else 4)


def test_instances_for_a_share_round_up_but_not_past_rounding_noise() -> None:
    from podium.serving.deployment import instances

    third = plan(rolling({"Type": "INSTANCE_COUNT", "Value": 1}), 3).steps
    assert [instances(3, s.green_share) for s in third] == [1, 2, 3]
    assert [instances(3, 1.0 - s.green_share) for s in third] == [2, 1, 0]  # blue left after each batch
    assert instances(1, 0.5) == 1 and instances(4, 0.1) == 1 and instances(2, 0.0) == 0
