"""Deployment policies (SageMaker's DeploymentConfig) and the traffic-shift plan they imply.

Pure: `plan(config, green_instances)` gives the ordered steps — the share of traffic on green
after each shift and how long to bake before the next — that the endpoint service executes.
For a rolling update (`RollingUpdatePolicy`) a step's share is also the part of green's
capacity started by then, and the part of blue's capacity stopped once its bake passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from podium.errors import ValidationError

TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
ROLLING = "ROLLING"


@dataclass(frozen=True)
class Step:
    green_share: float
    bake_seconds: float
    label: str


@dataclass(frozen=True)
class Plan:
    type: str
    steps: tuple[Step, ...]
    termination_wait_seconds: float
    max_execution_seconds: float
    alarms: tuple[str, ...]
    # ROLLING only: the part of blue's full capacity restarted per batch on rollback (1.0: all).
    rollback_batch: float = 1.0

    @property
    def rolling(self) -> bool:
        return self.type == ROLLING


def _size(spec: Any, green_instances: int, what: str) -> float:
    if not isinstance(spec, dict) or spec.get("Type") not in ("INSTANCE_COUNT", "CAPACITY_PERCENT"):
        raise ValidationError(f"{what} must be {{'Type': 'INSTANCE_COUNT'|'CAPACITY_PERCENT', 'Value': n}}")
    value = spec.get("Value")
    if not isinstance(value, int | float) or value <= 0:
        raise ValidationError(f"{what}.Value must be a positive number")
    if spec["Type"] == "CAPACITY_PERCENT":
        return float(value) / 100.0
    return float(value) / max(1, green_instances)


def instances(count: int, fraction: float) -> int:
    """Workers for `fraction` of a variant's `count` instances, rounded up (0 only for 0).
    Shares are rounded to 6 decimals, so 1 - 0.333333 of 3 is 2, not 3."""
    return max(0, min(count, math.ceil(count * fraction - 1e-4)))


def _wait(value: Any, what: str) -> float:
    if not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise ValidationError(f"{what} must be 0..3600")
    return float(value)


def _alarms(config: dict[str, Any]) -> tuple[str, ...]:
    alarms = (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    if not isinstance(alarms, list) or not all(isinstance(a, dict) and a.get("AlarmName") for a in alarms):
        raise ValidationError("AutoRollbackConfiguration.Alarms must be [{'AlarmName': name}, ...]")
    return tuple(a["AlarmName"] for a in alarms)


def _timeout(policy: dict[str, Any], total_wait: float, what: str) -> float:
    maximum = policy.get("MaximumExecutionTimeoutInSeconds", 28_800)
    if not isinstance(maximum, int | float) or maximum <= total_wait:
        raise ValidationError(
            f"{what}.MaximumExecutionTimeoutInSeconds ({maximum}) must exceed the total of the waits "
            f"({total_wait:g} s)")
    return float(maximum)


def _rolling(config: dict[str, Any], green_instances: int, blue_instances: int) -> Plan:
    """Batches of green started, traffic shifted to them, baked, then as much of blue stopped."""
    policy = config["RollingUpdatePolicy"]
    if not isinstance(policy, dict):
        raise ValidationError("RollingUpdatePolicy must be an object")
    if "MaximumBatchSize" not in policy:
        raise ValidationError("RollingUpdatePolicy.MaximumBatchSize is required")
    batch = _size(policy["MaximumBatchSize"], green_instances, "RollingUpdatePolicy.MaximumBatchSize")
    if not 0.05 - 1e-9 <= batch <= 0.5 + 1e-9:
        raise ValidationError(
            f"RollingUpdatePolicy.MaximumBatchSize must be 5% to 50% of the new fleet's instance count "
            f"({green_instances}); it is {batch:.0%}")
    wait = _wait(policy.get("WaitIntervalInSeconds"), "RollingUpdatePolicy.WaitIntervalInSeconds")
    rollback = 1.0
    if policy.get("RollbackMaximumBatchSize") is not None:
        rollback = min(1.0, _size(policy["RollbackMaximumBatchSize"], blue_instances,
                                  "RollingUpdatePolicy.RollbackMaximumBatchSize"))
    count = math.ceil(1.0 / batch - 1e-9)
    steps = tuple(Step(min(1.0, round(batch * k, 6)), wait, f"rolling batch {k} of {count}")
                  for k in range(1, count + 1))
    maximum = _timeout(policy, wait * count, "RollingUpdatePolicy")
    return Plan(ROLLING, steps, 0.0, maximum, _alarms(config), rollback)


def plan(config: dict[str, Any] | None, green_instances: int, blue_instances: int | None = None) -> Plan:
    """Steps for a DeploymentConfig; no config means blue/green all at once with no baking."""
    config = config or {}
    if config.get("RollingUpdatePolicy") is not None:
        if config.get("BlueGreenUpdatePolicy") is not None:
            raise ValidationError("DeploymentConfig takes BlueGreenUpdatePolicy or RollingUpdatePolicy, not both")
        return _rolling(config, green_instances, blue_instances or green_instances)
    policy = config.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    kind = routing.get("Type")
    if kind not in TYPES:
        raise ValidationError(f"TrafficRoutingConfiguration.Type must be one of {', '.join(TYPES)}")
    wait = routing.get("WaitIntervalInSeconds", 0)
    if not isinstance(wait, int | float) or not 0 <= wait <= 3600:
        raise ValidationError("TrafficRoutingConfiguration.WaitIntervalInSeconds must be 0..3600")
    termination = policy.get("TerminationWaitInSeconds", 0)
    if not isinstance(termination, int | float) or not 0 <= termination <= 3600:
        raise ValidationError("TerminationWaitInSeconds must be 0..3600")
    steps: list[Step]
    if kind == "ALL_AT_ONCE":
        steps = [Step(1.0, wait, "all traffic to green; final baking period")]
    elif kind == "CANARY":
        share = _size(routing.get("CanarySize"), green_instances, "CanarySize")
        if share > 0.5:
            raise ValidationError("CanarySize must be at most 50% of the green fleet")
        steps = [Step(share, wait, f"canary: {share:.0%} of traffic to green"),
                 Step(1.0, wait, "all traffic to green; final baking period")]
    else:
        share = _size(routing.get("LinearStepSize"), green_instances, "LinearStepSize")
        if not 0.1 <= share <= 0.5:
            raise ValidationError("LinearStepSize must be 10% to 50% of the green fleet")
        count = math.ceil(1.0 / share - 1e-9)
        steps = [Step(min(1.0, round(share * k, 6)), wait, f"linear step {k} of {count}")
                 for k in range(1, count + 1)]
    total_wait = sum(step.bake_seconds for step in steps) + termination
    maximum = policy.get("MaximumExecutionTimeoutInSeconds", 28_800)
    if not isinstance(maximum, int | float) or maximum <= total_wait:
        raise ValidationError(
            f"MaximumExecutionTimeoutInSeconds ({maximum}) must exceed the total of the waits ({total_wait:g} s)"
        )
    return Plan(kind, tuple(steps), float(termination), float(maximum), _alarms(config))
