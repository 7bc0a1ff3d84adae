"""The pure step function: one event in, the next run state plus actions and history out.

This module knows nothing of databases, threads or clocks. The durable engine (and the
in-memory runner in `podium.asl.runner`) drive it like this::

    machine = compile_definition(doc)
    rs = RunState()                                   # empty; StartExecution fills it
    result = step(machine, rs, StartExecution(input=..., execution_arn=..., ...), now)
    # persist result.run_state.to_json() and append result.history, then perform
    # result.actions; each outcome comes back as a new event:
    result = step(machine, result.run_state, TaskSucceeded(task_id, output), now)

Contract
--------
The event, action and history classes live in `podium.asl.events`, `RunState` in
`podium.asl.runstate`; all are re-exported here.

* `step(machine, run_state, event, now) -> StepResult(run_state, actions, history)`.
  `now` is an aware `datetime` (UTC) supplied by the caller; nothing here reads a clock.
  The run state passed in is updated in place and returned: callers that must keep the
  previous version keep its `to_json()` (the engine persists after every step anyway).
* `RunState.to_json()` returns plain JSON (dicts, lists, str, numbers); `RunState.from_json`
  restores it exactly. It holds every frame (one per running branch: current state,
  effective input, retry counters, Map/Parallel progress, variables), pending task and
  timer ids, the next history event id, and the seed of the deterministic retry jitter.
* Events in: `StartExecution`, `TaskSucceeded`, `TaskFailed`, `TaskHeartbeat` (the task
  reported progress: its heartbeat timer starts over), `TaskTimedOut` (a timeout the worker
  detected itself), `TimerFired`, `StopExecution`, `RedriveExecution` (a FAILED, TIMED_OUT or
  ABORTED run re-enters the top-level state that was running, with its input and the
  top-level variables; a Map/Parallel there re-runs only its unsuccessful branches or
  iterations, as AWS does, keeping the others' results; $$.Execution.RedriveCount goes up
  by one). An event naming an
  unknown task or timer (already completed, cancelled or timed out) is ignored: the engine
  may deliver late duplicates safely.
* Actions out, in the order they must be performed:
  `RunTask(task_id, resource, input, state_name, timeout_seconds, heartbeat_seconds,
  task_token)` — call a Task resource; answer with TaskSucceeded/TaskFailed/TaskTimedOut.
  `StartTimer(timer_id, due)` — answer with TimerFired at or after `due`. Used for Wait,
  Retry back-off, a Task's TimeoutSeconds and HeartbeatSeconds, and the execution's
  TimeoutSeconds. Timers are never cancelled: a timer that no longer matters is ignored.
  `CancelTask(task_id)` — best effort; a result arriving later is ignored.
  `Finished(status, output, error, cause)` — the execution is over (SUCCEEDED, FAILED,
  TIMED_OUT or ABORTED); no further events are accepted.
* History: `HistoryEvent(id, previous_event_id, type, timestamp, details)` with AWS event
  type names (ExecutionStarted, PassStateEntered, TaskScheduled, MapIterationStarted, ...),
  ids strictly increasing from 1 across steps.

A Map or Parallel state runs its branches as child frames of the same run state;
MaxConcurrency limits how many are started at once, so it bounds the RunTask actions in
flight. Branches that need nothing from outside run to completion within one step.
A distributed Map's ItemReader and ResultWriter are RunTask actions too (their Resource,
e.g. `arn:aws:states:::s3:getObject`, with the rendered Parameters/Arguments); the reader's
result is file content or a list, parsed by `podium.asl.map_io`; the writer receives
`{...Parameters, "MapRunArn", "Results"}` and returns the ResultWriterDetails. Their
failures become States.ItemReaderFailed / States.ResultWriterFailed.

Layout: `podium.asl.stepper` holds the `Stepper` that applies one event (plumbing, event
dispatch, endings, the frame loop, the shared data flow and payload limits);
`podium.asl.state_types` the Pass, Succeed, Fail, Choice, Wait and Task states;
`podium.asl.branches` Parallel and Map; `podium.asl.recovery` Retry and Catch.

Limits: payload size (256 KiB of UTF-8 JSON, States.DataLimitExceeded; `podium.asl.limits`)
is checked on the execution input and output, every state's output, a state's input after
Parameters/Arguments (Task input, Parallel branch input, Map iteration input), task results
and constant Pass results. An oversized task result is a task failure that Retry/Catch see
(States.ALL matches it), as AWS's recordings show; the others are terminal: the execution
fails whatever Retry or Catch say, as AWS documents.

Determinism: the step function reads no clock (`now` is passed in) and its random functions
(States.UUID, States.MathRandom, $random(), $uuid()) draw from the run's seed
(`podium.asl.entropy`), so the same event applied to the same run state gives the same result.
"""

from __future__ import annotations

from datetime import datetime

from podium.asl.definition import StateMachine
from podium.asl.events import (
    Action,
    CancelTask,
    Event,
    Finished,
    HistoryEvent,
    RedriveExecution,
    RunTask,
    StartExecution,
    StartTimer,
    StepResult,
    StopExecution,
    TaskFailed,
    TaskHeartbeat,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
    new_step_result,
)
from podium.asl.runstate import RunState
from podium.asl.stepper import Stepper

__all__ = [
    "Action",
    "CancelTask",
    "Event",
    "Finished",
    "HistoryEvent",
    "RedriveExecution",
    "RunState",
    "RunTask",
    "StartExecution",
    "StartTimer",
    "StepResult",
    "StopExecution",
    "TaskFailed",
    "TaskHeartbeat",
    "TaskSucceeded",
    "TaskTimedOut",
    "TimerFired",
    "step",
]


def step(machine: StateMachine, run_state: RunState, event: Event, now: datetime) -> StepResult:
    """Apply one event to a run; see the module docstring for the contract."""
    stepper = Stepper(machine, run_state, now)
    stepper.handle(event)
    return new_step_result(run_state, stepper.actions, stepper.history)
