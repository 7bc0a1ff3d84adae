"""What flows in and out of the step function: events, actions and history records.

See `podium.asl.step` for the contract that ties them together. The helpers at the end
spell history details as GetExecutionHistory does (resourceType/resource, error/cause).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from podium.asl.errors import STATES_TIMEOUT
from podium.asl.timestamps import format_timestamp

if TYPE_CHECKING:
    from podium.asl.runstate import RunState

# ---------------------------------------------------------------------------- events in


@dataclass(frozen=True, slots=True)
class StartExecution:
    input: Any
    execution_arn: str = "arn:aws:states:us-east-1:111111111111:execution:podium:run"
    execution_name: str = "run"
    state_machine_arn: str = "arn:aws:states:us-east-1:111111111111:stateMachine:podium"
    state_machine_name: str = "podium"
    role_arn: str = "arn:aws:iam::111111111111:role/podium"
    seed: int = 0
    redrive_count: int = 0


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    task_id: str
    output: Any


@dataclass(frozen=True, slots=True)
class TaskFailed:
    task_id: str
    error: str | None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class TaskTimedOut:
    """The worker saw the task exceed its timeout or miss a heartbeat."""

    task_id: str
    error: str = STATES_TIMEOUT
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class TaskHeartbeat:
    """The worker reported progress (SendTaskHeartbeat): the heartbeat timer starts over."""

    task_id: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer_id: str


@dataclass(frozen=True, slots=True)
class RedriveExecution:
    """Resume a FAILED, TIMED_OUT or ABORTED run from the top-level state that was running."""


@dataclass(frozen=True, slots=True)
class StopExecution:
    error: str | None = None
    cause: str | None = None


Event = (StartExecution | TaskSucceeded | TaskFailed | TaskTimedOut | TaskHeartbeat | TimerFired | StopExecution
         | RedriveExecution)

# ---------------------------------------------------------------------------- actions out


@dataclass(frozen=True, slots=True)
class RunTask:
    task_id: str
    resource: str
    input: Any
    state_name: str
    timeout_seconds: int | None = None
    heartbeat_seconds: int | None = None
    task_token: str | None = None


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer_id: str
    due: datetime


@dataclass(frozen=True, slots=True)
class CancelTask:
    task_id: str


@dataclass(frozen=True, slots=True)
class Finished:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


Action = RunTask | StartTimer | CancelTask | Finished


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    id: int
    previous_event_id: int
    type: str
    timestamp: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self, timestamp_text: str | None = None) -> dict[str, Any]:
        """JSON form; pass `timestamp_text` to reuse one formatting for a whole step."""
        return {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "type": self.type,
            "timestamp": timestamp_text or format_timestamp(self.timestamp),
            "details": dict(self.details),
        }


    def to_aws(self) -> dict[str, Any]:
        """The shape of AWS GetExecutionHistory: typed details, payloads as JSON text."""
        event: dict[str, Any] = {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": format_timestamp(self.timestamp),
            "type": self.type,
        }
        if self.details:
            event[_details_key(self.type)] = {
                k: json.dumps(v, separators=(",", ":")) if k in _PAYLOAD_KEYS else v
                for k, v in self.details.items()
            }
        return event


# Detail fields AWS returns as JSON text rather than as structured values.
_PAYLOAD_KEYS = frozenset({"input", "output", "parameters"})


def _details_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass(frozen=True, slots=True)
class StepResult:
    run_state: RunState
    actions: list[Action]
    history: list[HistoryEvent]


# ---------------------------------------------------------------------------- fast construction

# Calling a frozen dataclass sets each field through object.__setattr__ by name, which costs
# three times setting the slots through their descriptors: a Task's step builds a RunTask and
# a StepResult (and five history events: see podium.asl.stepper.Stepper.emit). These build the
# same objects (same class, fields, equality, hash).
_new = object.__new__
_set_task_id, _set_resource, _set_input, _set_state_name, _set_timeout, _set_heartbeat, _set_token = (
    getattr(RunTask, name).__set__ for name in RunTask.__slots__)
_set_run_state, _set_actions, _set_history = (getattr(StepResult, name).__set__ for name in StepResult.__slots__)


def new_run_task(task_id: str, resource: str, input: Any, state_name: str,  # noqa: A002
                 timeout_seconds: int | None, heartbeat_seconds: int | None, task_token: str | None) -> RunTask:
    """`RunTask(...)` with every field given, built faster."""
    action = _new(RunTask)
    _set_task_id(action, task_id)
    _set_resource(action, resource)
    _set_input(action, input)
    _set_state_name(action, state_name)
    _set_timeout(action, timeout_seconds)
    _set_heartbeat(action, heartbeat_seconds)
    _set_token(action, task_token)
    return action


def new_step_result(run_state: RunState, actions: list[Action], history: list[HistoryEvent]) -> StepResult:
    """`StepResult(run_state, actions, history)`, built faster."""
    result = _new(StepResult)
    _set_run_state(result, run_state)
    _set_actions(result, actions)
    _set_history(result, history)
    return result


# ---------------------------------------------------------------------------- history details


def task_event_prefix(resource: str) -> str:
    """The history event prefix: 'LambdaFunction' for a plain function ARN, else 'Task'."""
    # A plain function ARN is the legacy Lambda resource, recorded with its own event names.
    is_function = resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource
    return "LambdaFunction" if is_function else "Task"


def resource_details(resource: str) -> dict[str, str]:
    """AWS's resourceType/resource split: arn:aws:states:::aws-sdk:s3:getObject -> aws-sdk:s3, getObject."""
    if task_event_prefix(resource) == "LambdaFunction":
        return {}
    service = resource.split(":::", 1)[1] if ":::" in resource else ""
    if ":" not in service:
        return {"resourceType": "podium", "resource": resource}
    rtype, name = service.rsplit(":", 1)
    return {"resourceType": rtype, "resource": name}


def resource_region(resource: str) -> str:
    """The region of an ARN (us-east-1 when it names none)."""
    parts = resource.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def failure_details(error: str | None, cause: str | None) -> dict[str, Any]:
    """Failure details as GetExecutionHistory spells them (lower-case keys)."""
    out: dict[str, Any] = {}
    if error is not None:
        out["error"] = error
    if cause is not None:
        out["cause"] = cause
    return out
