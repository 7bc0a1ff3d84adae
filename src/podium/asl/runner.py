"""Run a state machine to completion in memory: the reference driver of the step function.

`execute(definition, input, functions=..., resources=..., clock=...)` performs the actions
`podium.asl.step` asks for, synchronously and in order: Task resources are Python callables,
timers wait on a clock. The default clock is virtual, so a Wait or a Retry back-off takes no
real time. A handler that raises fails its task; nothing escapes as a Python exception
except a bad definition (`podium.errors.ValidationError`).
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from podium.asl import lambdas
from podium.asl.definition import StateMachine, compile_definition
from podium.asl.errors import STATES_RUNTIME, AslRuntimeError
from podium.asl.step import (
    CancelTask,
    Event,
    Finished,
    HistoryEvent,
    RunState,
    RunTask,
    StartExecution,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
    TimerFired,
    step,
)
from podium.asl.timestamps import format_timestamp

__all__ = ["Clock", "Execution", "SystemClock", "VirtualClock", "execute"]


class Clock(Protocol):
    """Where the runner gets the time and how it waits for a timer."""

    def now(self) -> datetime: ...

    def sleep_until(self, moment: datetime) -> None: ...


class VirtualClock:
    """A clock that jumps to the next timer instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def sleep_until(self, moment: datetime) -> None:
        self._now = max(self._now, moment)


class SystemClock:
    """Real time: Wait states really wait."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, moment: datetime) -> None:
        delay = (moment - datetime.now(UTC)).total_seconds()
        if delay > 0:
            time.sleep(delay)


@dataclass
class Execution:
    """The outcome of a run."""

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[tuple[HistoryEvent, str]] = field(default_factory=list, repr=False)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The history as JSON records (id, previousEventId, type, timestamp, details)."""
        return [event.to_json(stamp) for event, stamp in self.history]


def execute(
    definition: StateMachine | Mapping[str, Any] | str,
    input: Any = None,  # noqa: A002 - the name users know from StartExecution
    *,
    functions: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    resources: Mapping[str, Callable[[Any], Any]] | None = None,
    clock: Clock | None = None,
    name: str = "run",
    seed: int | None = None,
) -> Execution:
    """Run `definition` on `input` and return the finished execution. `seed` fixes the
    retry jitter and the random functions (States.UUID, $random(), ...); by default each
    execution gets a fresh one."""
    if seed is None:
        seed = random.getrandbits(31)
    machine = definition if isinstance(definition, StateMachine) else compile_definition(definition)
    clock = clock or VirtualClock()
    functions = functions or {}
    resources = resources or {}
    rs = RunState()
    history: list[tuple[HistoryEvent, str]] = []
    tasks: deque[RunTask] = deque()
    timers: list[tuple[datetime, int, str]] = []
    seq = 0
    start = StartExecution(
        input={} if input is None else input,
        execution_arn=f"arn:aws:states:us-east-1:111111111111:execution:podium:{name}",
        execution_name=name,
        seed=seed,
    )
    pending: Event | None = start
    finished: Finished | None = None
    while pending is not None:
        now = clock.now()
        result = step(machine, rs, pending, now)
        pending = None
        stamp = format_timestamp(now)
        history.extend((e, stamp) for e in result.history)
        for action in result.actions:
            if isinstance(action, RunTask):
                tasks.append(action)
            elif isinstance(action, StartTimer):
                seq += 1
                heapq.heappush(timers, (action.due, seq, action.timer_id))
            elif isinstance(action, CancelTask):
                for queued in list(tasks):
                    if queued.task_id == action.task_id:
                        tasks.remove(queued)
            elif isinstance(action, Finished):
                finished = action
        if finished is not None:
            break
        if tasks:
            pending = _perform(tasks.popleft(), functions, resources)
        elif timers:
            due, _, timer_id = heapq.heappop(timers)
            clock.sleep_until(due)
            pending = TimerFired(timer_id)
    if finished is None:
        return Execution("FAILED", None, STATES_RUNTIME, "The execution stalled with nothing left to do", history)
    return Execution(finished.status, finished.output, finished.error, finished.cause, history)


def _perform(task: RunTask, functions: Mapping[str, Callable[[Any, Any], Any]],
             resources: Mapping[str, Callable[[Any], Any]]) -> Event:
    try:
        if task.resource in resources:
            output = resources[task.resource](task.input)
        elif lambdas.is_lambda_resource(task.resource):
            output = lambdas.invoke(functions, task.resource, task.input)
        else:
            return TaskFailed(task.task_id, "States.Runtime",
                              f"No handler for the Task resource '{task.resource}'; pass it in resources=")
    except AslRuntimeError as exc:
        return TaskFailed(task.task_id, exc.error, exc.cause)
    except Exception as exc:  # noqa: BLE001 - a resource error is the task's failure
        return TaskFailed(task.task_id, type(exc).__name__, str(exc))
    return TaskSucceeded(task.task_id, output)

