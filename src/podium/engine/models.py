"""What the engine's API returns: frozen records of state machines, executions and history."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

STANDARD = "STANDARD"
EXPRESS = "EXPRESS"
WORKFLOW_TYPES = (STANDARD, EXPRESS)

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
ABORTED = "ABORTED"
EXECUTION_STATUSES = (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)
REDRIVABLE = (FAILED, TIMED_OUT, ABORTED)


@dataclass(frozen=True)
class StateMachineInfo:
    name: str
    arn: str
    type: str
    definition: dict[str, Any]
    description: str
    revision_id: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionInfo:
    state_machine: str
    version: int
    arn: str
    type: str
    revision_id: str
    description: str
    created_at: datetime
    definition: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AliasInfo:
    state_machine: str
    name: str
    arn: str
    routing: list[dict[str, int]]
    description: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExecutionInfo:
    arn: str
    name: str
    state_machine: str
    type: str
    status: str
    input: Any
    output: Any
    error: str | None
    cause: str | None
    start_time: datetime
    stop_time: datetime | None
    version: int | None
    alias: str | None
    redrive_count: int
    revision_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryRecord:
    id: int
    previous_event_id: int
    type: str
    timestamp: datetime
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Page:
    """One page of a listing; pass `next_token` back to get the next one (None = last page)."""

    items: list[Any]
    next_token: str | None
