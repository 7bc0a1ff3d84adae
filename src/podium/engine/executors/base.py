"""The executor contract: run one Task call somewhere other than the worker's loop.

An executor is deliberately small. The worker owns durability (which tasks are claimed, their
leases, attempts and results); an executor only runs a `TaskRequest` and reports a
`TaskOutcome` through a Future. Guarantees an implementation must give:

- `submit` never blocks on the task itself: it returns a Future at once (it may queue).
- The Future always completes with a `TaskOutcome`; a failure of the task (an exception, a
  timeout, a dead process) is an outcome with `error` set, never an exception on the Future.
- No ordering between tasks is promised, and a task may run more than once over a crash
  (the worker dispatches at least once and ignores duplicate results).

An executor may also offer `start(request)` / `ready(call)` / `finish(call)` / `flush()` (the
local one does, for function calls): `start` returns a TaskOutcome, a pending call with a
waitable `connection` and a `deadline`, or something else to mean "use submit"; a started call
may be held back until `flush()`, which the worker calls after starting a batch. The worker
waits on the pending calls' connections in its own loop and `finish`es each call once
`ready(call)` says its outcome is there (several calls may share one connection, answered in
the order they were started) or its deadline passed.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class TaskRequest:
    """One Task state call: the resource ARN and its rendered input (Parameters/Arguments)."""

    execution_arn: str
    task_id: str
    resource: str
    input: Any
    attempt: int = 1
    timeout_seconds: float | None = None
    task_token: str | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """What the call gave: an output, or an ASL error and cause.

    `waiting` means the resource was called and the result will come later through
    SendTaskSuccess/SendTaskFailure with the task token (`.waitForTaskToken`).
    """

    output: Any = None
    error: str | None = None
    cause: str | None = None
    waiting: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


class Executor(Protocol):
    def submit(self, request: TaskRequest) -> Future[TaskOutcome]:
        """Start running `request`; the Future completes with its outcome."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with `wait`, return after running tasks finish."""
        ...
