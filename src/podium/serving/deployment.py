"""Deployment policies (SageMaker's DeploymentConfig) and the traffic-shift plan they imply.

Pure: `plan(config, green_instances)` gives the ordered steps — the share of traffic on green
after each shift and how long to bake before the next — that the endpoint service executes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from podium.errors import ValidationError

TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")


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


def _size(spec: Any, green_instances: int, what: str) -> float:
    if not isinstance(spec, dict) or spec.get("Type") not in ("INSTANCE_COUNT", "CAPACITY_PERCENT"):
        raise ValidationError(f"{what} must be {{'Type': 'INSTANCE_COUNT'|'CAPACITY_PERCENT', 'Value': n}}")
    value = spec.get("Value")
    if not isinstance(value, int | float) or value <= 0:
        raise ValidationError(f"{what}.Value must be a positive number")
    if spec["Type"] == "CAPACITY_PERCENT":
        return float(value) / 100.0
    return float(value) / max(1, green_instances)


def plan(config: dict[str, Any] | None, green_instances: int) -> Plan:
    """Steps for a DeploymentConfig; no config means blue/green all at once with no baking."""
    config = config or {}
    policy = config.get("BlueGreenUpdatePolicy") or {}
    if "RollingUpdatePolicy" in config:
        raise ValidationError("RollingUpdatePolicy is not supported yet; use BlueGreenUpdatePolicy")
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
    alarms = tuple(a["AlarmName"] for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", []))
    return Plan(kind, tuple(steps), float(termination), float(maximum), alarms)
