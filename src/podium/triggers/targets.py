"""Targets: what a schedule fire or a matched event invokes.

A target is anything with `invoke(invocation)`. Delivery is at-least-once: after a crash
between invoking a target and recording the outcome, the same invocation is sent again
with the same `idempotency_key`, so a target that must act exactly once deduplicates on
that key (as `RecordTarget` does, and as starting a workflow by execution name will).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.triggers import triggers_recorded


@dataclass(frozen=True)
class Invocation:
    """One delivery attempt of a payload to a target."""

    payload: Any
    idempotency_key: str  # the same on every retry of this delivery
    origin: str  # "schedule" | "rule"
    origin_name: str  # the schedule or rule name
    attempt: int  # 1 for the first try


class Target(Protocol):
    def invoke(self, invocation: Invocation) -> None:
        """Perform the action. Return normally on success; raise to fail this attempt (it is
        retried with back-off, then dead-lettered). May be called more than once for one
        idempotency key; must then act once."""


class CallableTarget:
    """A Python callable as a target; it receives the payload (or, with
    `wants_invocation=True`, the whole Invocation)."""

    def __init__(self, function: Callable[[Any], Any], *, wants_invocation: bool = False) -> None:
        self.function = function
        self.wants_invocation = wants_invocation

    def invoke(self, invocation: Invocation) -> None:
        self.function(invocation if self.wants_invocation else invocation.payload)


class RecordTarget:
    """Writes each invocation to the `triggers_recorded` table, once per idempotency key:
    the table target that tests and examples use to see exactly what fired."""

    def __init__(self, store: Store, label: str) -> None:
        self.store = store
        self.label = label

    def invoke(self, invocation: Invocation) -> None:
        try:
            with self.store.begin() as connection:
                connection.execute(
                    insert(triggers_recorded).values(
                        label=self.label,
                        idempotency_key=invocation.idempotency_key,
                        payload=json.dumps(invocation.payload),
                        recorded_at=time.time(),
                    )
                )
        except IntegrityError:
            pass  # already recorded by an earlier attempt: acting twice is what we avoid


class WorkflowTarget:
    """Starts a workflow execution (the Step Functions target). The execution name is
    derived from the idempotency key, and the engine's StartExecution returns the
    existing execution for a name it has seen with the same input, so a redelivered
    fire or event starts the workflow once."""

    def __init__(self, engine: Any, state_machine: str) -> None:
        self.engine = engine  # a podium.engine.Engine (anything with start_execution)
        self.state_machine = state_machine

    @staticmethod
    def execution_name(invocation: Invocation) -> str:
        digest = hashlib.sha256(invocation.idempotency_key.encode()).hexdigest()[:20]
        readable = re.sub(r"[^0-9A-Za-z_.-]", "-", invocation.origin_name)[:55]
        return f"{readable}-{digest}"

    def invoke(self, invocation: Invocation) -> None:
        self.engine.start_execution(
            self.state_machine, invocation.payload, name=self.execution_name(invocation)
        )


class FunctionTarget:
    """Invokes a registered Podium function (the Lambda target), asynchronously as
    EventBridge does: the payload is the function's event, a raised error or timeout
    fails the attempt (and is retried), and the result is discarded. The request id is
    the idempotency key, for functions that deduplicate."""

    def __init__(self, functions: Any, pool: Any, name: str) -> None:
        self.functions = functions  # a podium.functions.FunctionRegistry
        self.pool = pool  # a podium.functions.FunctionPool
        self.name = name

    def invoke(self, invocation: Invocation) -> None:
        spec = self.functions.get(self.name)
        self.pool.invoke(spec, invocation.payload, request_id=invocation.idempotency_key)


class StreamTarget:
    """Puts the payload, as JSON, on a Podium stream (the Kinesis target). The partition
    key is the value at `partition_key_path` in the payload when given (EventBridge's
    PartitionKeyPath), else the idempotency key, which spreads records over shards.
    Streams are at-least-once: a redelivery after a crash may write the record twice."""

    def __init__(self, streams: Any, stream: str, partition_key_path: str | None = None) -> None:
        from podium.triggers.transform import JsonPath

        self.streams = streams  # a podium.ingest.streams.StreamsClient
        self.stream = stream
        self.partition_key = (
            JsonPath.parse(partition_key_path, "partition_key_path") if partition_key_path else None
        )

    def invoke(self, invocation: Invocation) -> None:
        key = invocation.idempotency_key
        if self.partition_key is not None:
            selected = self.partition_key.select(invocation.payload)
            if isinstance(selected, str | int | float) and not isinstance(selected, bool):
                key = str(selected)
        data = json.dumps(invocation.payload).encode()
        self.streams.put_record(self.stream, data, key[:256])


class TargetRegistry:
    """Targets by name; schedules and rule targets refer to targets by these names."""

    def __init__(self) -> None:
        self._targets: dict[str, Target] = {}

    def register(self, name: str, target: Target | Callable[[Any], Any]) -> None:
        if not name or not isinstance(name, str):
            raise ValidationError("a target name must be a non-empty string")
        if name in self._targets:
            raise ConflictError(f"target {name!r} is already registered")
        if not hasattr(target, "invoke"):
            if not callable(target):
                raise ValidationError(f"target {name!r} must have invoke() or be callable")
            target = CallableTarget(target)
        self._targets[name] = target

    def get(self, name: str) -> Target:
        try:
            return self._targets[name]
        except KeyError:
            known = ", ".join(sorted(self._targets)) or "none"
            raise NotFoundError(
                f"target {name!r} is not registered (registered: {known})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def names(self) -> list[str]:
        return sorted(self._targets)
