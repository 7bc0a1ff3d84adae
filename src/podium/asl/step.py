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

Limits: payload size (256 KiB, States.DataLimitExceeded) is checked on the execution input,
task results, constant Pass results and the execution output, not after every state. An
oversized task result is a task failure that Retry/Catch see (States.ALL matches it); the
others fail the execution.
"""

from __future__ import annotations

import json
import random
from collections import ChainMap, deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.asl.definition import JSONATA, State, StateMachine
from podium.asl.errors import (
    NOT_CATCHABLE,
    STATES_ALL,
    STATES_DATA_LIMIT_EXCEEDED,
    STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
    STATES_HEARTBEAT_TIMEOUT,
    STATES_ITEM_READER_FAILED,
    STATES_NO_CHOICE_MATCHED,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RESULT_WRITER_FAILED,
    STATES_RUNTIME,
    STATES_TASK_FAILED,
    STATES_TIMEOUT,
    AslRuntimeError,
    error_output,
)
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
    failure_details,
    resource_details,
    resource_region,
    task_event_prefix,
)
from podium.asl.jsonata import unexpected_type_error
from podium.asl.jsonpath import to_json_text
from podium.asl.map_io import group_batches, parse_items
from podium.asl.runstate import CHILDREN, ENTER, EXEC, TASK, TASK_DONE, WAITING, Frame, RunState
from podium.asl.timestamps import format_timestamp, parse_timestamp

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

# ---------------------------------------------------------------------------- step


def step(machine: StateMachine, run_state: RunState, event: Event, now: datetime) -> StepResult:
    """Apply one event to a run; see the module docstring for the contract."""
    stepper = _Stepper(machine, run_state, now)
    stepper.handle(event)
    return StepResult(run_state, stepper.actions, stepper.history)


class _StateFailure(Exception):
    """Internal: the current state failed with an error that carries no AWS prefix."""

    def __init__(self, error: str | None, cause: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.cause = cause


_CONTINUE, _BLOCK, _DONE = 0, 1, 2

# States whose context object carries State.RetryCount (the ones that may have Retry).
_RETRYABLE = frozenset({"Task", "Parallel", "Map"})

def _matches(error_equals: tuple[str, ...], error: str | None) -> bool:
    name = error if error is not None else ""
    if name in error_equals:
        return True
    if name in NOT_CATCHABLE:
        return False
    if STATES_ALL in error_equals:
        return True
    # States.TaskFailed is a wildcard for every error but States.Timeout.
    return STATES_TASK_FAILED in error_equals and name != STATES_TIMEOUT


class _Stepper:
    def __init__(self, machine: StateMachine, rs: RunState, now: datetime) -> None:
        self.m = machine
        self.rs = rs
        self.now = now
        self.now_text = format_timestamp(now)
        self.actions: list[Action] = []
        self.history: list[HistoryEvent] = []
        self.queue: deque[int] = deque()
        self.active: set[int] = set()
        # Branches/iterations that succeeded in a top-level Map/Parallel that has just failed:
        # a redrive keeps them (see remember_redrive).
        self.failed_work: dict[str, Any] | None = None

    # ------------------------------------------------------------------ plumbing

    def emit(self, frame: Frame | None, typ: str, details: Mapping[str, Any] | None = None) -> int:
        if frame is not None and frame.log >= 0:
            owner = self.rs.frames.get(frame.log, frame)
            owner.events += 1
            frame.last_event = owner.events
            return owner.events
        eid = self.rs.next_event_id
        self.rs.next_event_id = eid + 1
        prev = frame.last_event if frame is not None else eid - 1
        self.history.append(HistoryEvent(eid, prev, typ, self.now, details or {}))
        if frame is not None:
            frame.last_event = eid
        return eid

    def scope(self, frame: Frame) -> Mapping[str, Any]:
        """The variables a frame sees: its own, then its enclosing branches' (read only)."""
        if frame._scope is not None:
            return frame._scope
        if frame.parent is None or frame.isolated:
            frame._scope = frame.vars
        else:
            parent = self.rs.frames[frame.parent]
            frame._scope = ChainMap(frame.vars, self.scope(parent))  # type: ignore[arg-type]
        return frame._scope

    def context(self, frame: Frame, st: State) -> dict[str, Any]:
        if not st.uses_context:
            return {}
        ctx = dict(self.rs.context)
        state: dict[str, Any] = {"EnteredTime": frame.entered_time, "Name": frame.state}
        if st.type in _RETRYABLE:
            state["RetryCount"] = frame.retry_count
        ctx["State"] = state
        return ctx

    def new_frame(self, parent: Frame | None, index: int, program: int, data: Any) -> Frame:
        fid = self.rs.next_frame
        self.rs.next_frame = fid + 1
        prog = self.m.programs[program]
        f = Frame(fid, parent.fid if parent is not None else None, index, program, prog.start_at, data)
        if parent is not None:
            f.last_event = parent.last_event
            f.log = parent.log
        self.rs.frames[fid] = f
        return f

    def wake(self, frame: Frame) -> None:
        if frame.fid not in self.active and frame.fid not in self.queue:
            self.queue.append(frame.fid)

    # ------------------------------------------------------------------ events

    def handle(self, event: Event) -> None:
        self.dispatch(event)
        self.drain()

    def dispatch(self, event: Event) -> None:
        rs = self.rs
        if isinstance(event, StartExecution):
            if rs.status != "NOT_STARTED":
                return
            self.start(event)
        elif isinstance(event, RedriveExecution):
            if rs.status in ("FAILED", "TIMED_OUT", "ABORTED") and rs.redrive is not None:
                self.redrive(rs.redrive)
        elif rs.status != "RUNNING":
            return
        elif isinstance(event, TaskSucceeded):
            fid = rs.tasks.pop(event.task_id, None)
            if fid is None:
                return
            frame = rs.frames[fid]
            self.clear_task_timers(fid)
            st = self.m.programs[frame.program].states[frame.state]
            out = event.output
            frame.task = None
            if self.too_large(out):
                # AWS records an oversized result as the task's failure (TaskFailed /
                # LambdaFunctionFailed), which Retry and Catch - States.ALL included - then see.
                # It names a service integration by its service ('lambda') and a plain
                # function ARN by the ARN (LocalStack's AWS-validated test_states_errors).
                if st.type == "Task":
                    details = resource_details(st.resource)
                    what = details.get("resourceType", st.resource).split(":", 1)[0] if details else st.resource
                else:
                    what = frame.state
                too_big = f"The state/task '{what}' returned a result with a size exceeding the maximum number of bytes service limit."
                if st.type == "Task":
                    self.emit(frame, task_event_prefix(st.resource) + "Failed",
                              {**resource_details(st.resource), **failure_details(STATES_DATA_LIMIT_EXCEEDED, too_big)})
                frame.phase = EXEC
                self.run(frame, (STATES_DATA_LIMIT_EXCEEDED, too_big))
                return
            if st.type == "Task":
                self.emit(frame, task_event_prefix(st.resource) + "Succeeded", {**resource_details(st.resource), "output": out})
            frame.result = out
            frame.phase = TASK_DONE
            self.run(frame)
        elif isinstance(event, (TaskFailed, TaskTimedOut)):
            fid = rs.tasks.pop(event.task_id, None)
            if fid is None:
                return
            frame = rs.frames[fid]
            self.clear_task_timers(fid)
            st = self.m.programs[frame.program].states[frame.state]
            kind = "Failed" if isinstance(event, TaskFailed) else "TimedOut"
            if isinstance(event, TaskTimedOut):
                self.actions.append(CancelTask(event.task_id))
            error, cause = event.error, event.cause
            if st.type == "Task":
                self.emit(frame, task_event_prefix(st.resource) + kind, {**resource_details(st.resource), **failure_details(error, cause)})
            elif frame.work is not None:
                # A Map's own reader/writer task: AWS reports it under the Map's error names.
                error = STATES_ITEM_READER_FAILED if frame.work["kind"] == "reader" else STATES_RESULT_WRITER_FAILED
                cause = f"{event.error}: {event.cause}" if event.cause else str(event.error)
            frame.task = None
            frame.phase = EXEC
            self.run(frame, (error, cause))
        elif isinstance(event, TimerFired):
            entry = rs.timers.pop(event.timer_id, None)
            if entry is None:
                return
            kind, fid = entry[0], entry[1]
            if kind == "execution":
                self.finish_abnormally("TIMED_OUT", "ExecutionTimedOut", STATES_TIMEOUT, None)
                return
            timed = rs.frames.get(fid)
            if timed is None:
                return
            if kind in ("task-timeout", "task-heartbeat"):
                task_id = timed.task
                if task_id is None or rs.tasks.pop(task_id, None) is None:
                    return
                error = STATES_TIMEOUT if kind == "task-timeout" else STATES_HEARTBEAT_TIMEOUT
                st = self.m.programs[timed.program].states[timed.state]
                self.actions.append(CancelTask(task_id))
                self.emit(timed, task_event_prefix(st.resource) + "TimedOut", {"error": error})
                timed.task = None
                timed.phase = EXEC
                self.run(timed, (error, None))
                return
            timed.phase = EXEC if kind == "retry" else TASK_DONE
            self.run(timed)
        elif isinstance(event, TaskHeartbeat):
            fid = rs.tasks.get(event.task_id)
            if fid is None:
                return
            for timer_id, entry in list(rs.timers.items()):
                if entry[0] == "task-heartbeat" and entry[1] == fid:
                    del rs.timers[timer_id]
                    self.start_heartbeat(event.task_id, fid, entry[2])
        elif isinstance(event, StopExecution):
            self.finish_abnormally("ABORTED", "ExecutionAborted", event.error, event.cause)

    def drain(self) -> None:
        while self.queue and self.rs.status == "RUNNING":
            fid = self.queue.popleft()
            frame = self.rs.frames.get(fid)
            if frame is not None:
                self.run(frame)

    def start(self, ev: StartExecution) -> None:
        rs = self.rs
        rs.status = "RUNNING"
        rs.seed = ev.seed
        start = self.now_text
        rs.context = {
            "Execution": {
                "Id": ev.execution_arn,
                "Input": ev.input,
                "Name": ev.execution_name,
                "RoleArn": ev.role_arn,
                "StartTime": start,
                "RedriveCount": ev.redrive_count,
            },
            "StateMachine": {"Id": ev.state_machine_arn, "Name": ev.state_machine_name},
        }
        self.emit(None, "ExecutionStarted", {"input": ev.input, "roleArn": ev.role_arn})
        if self.m.timeout_seconds is not None:
            rs.timers["execution-timeout"] = ["execution", None]
            self.actions.append(StartTimer("execution-timeout", self.now + timedelta(seconds=self.m.timeout_seconds)))
        if self.too_large(ev.input):
            self.fail_execution(STATES_DATA_LIMIT_EXCEEDED, "The input to the execution exceeds the maximum number of bytes service limit.")
            return
        root = self.new_frame(None, 0, 0, ev.input)
        root.last_event = 1
        self.run(root)

    def redrive(self, point: Mapping[str, Any]) -> None:
        rs = self.rs
        rs.status, rs.error, rs.cause, rs.redrive = "RUNNING", None, None, None
        rs.resume = None
        execution = rs.context["Execution"]
        execution["RedriveCount"] = int(execution.get("RedriveCount", 0)) + 1
        self.emit(None, "ExecutionRedriven", {"redriveCount": execution["RedriveCount"]})
        if self.m.timeout_seconds is not None:
            rs.timers["execution-timeout"] = ["execution", None]
            self.actions.append(StartTimer("execution-timeout", self.now + timedelta(seconds=self.m.timeout_seconds)))
        root = self.new_frame(None, 0, 0, point["input"])
        root.state = point["state"]
        root.vars = dict(point["vars"])
        root.last_event = rs.next_event_id - 1
        if point.get("done"):
            # AWS's RedriveExecution re-runs only the unsuccessful branches/iterations of the
            # Map or Parallel state it re-enters; the others keep their results.
            rs.resume = {"fid": root.fid, "done": point["done"]}
        self.run(root)

    def remember_redrive(self, frame: Frame | None = None) -> None:
        """Keep where a redrive would resume: the top-level frame's current state, and the
        results of the branches/iterations that already succeeded there."""
        root = frame if frame is not None else next((f for f in self.rs.frames.values() if f.parent is None), None)
        if root is None:
            return
        point: dict[str, Any] = {"state": root.state, "input": root.input, "vars": dict(root.vars)}
        work = root.work
        if work is not None and work.get("kind") in ("map", "parallel") and work.get("done"):
            point["done"] = {str(i): work["results"][i] for i in work["done"]}
        elif self.failed_work is not None and self.failed_work["state"] == root.state:
            point["done"] = self.failed_work["done"]
        self.rs.redrive = point

    def resumed_results(self, frame: Frame, n: int) -> dict[int, Any]:
        """Results kept by a redrive for the Map/Parallel state `frame` is entering (once)."""
        resume = self.rs.resume
        if resume is None or resume["fid"] != frame.fid:
            return {}
        self.rs.resume = None
        return {int(i): v for i, v in resume["done"].items() if 0 <= int(i) < n}

    def too_large(self, value: Any) -> bool:
        if isinstance(value, (int, float, bool)) or value is None:
            return False
        if isinstance(value, str) and len(value) * 4 <= self.m.max_payload_bytes:
            return False
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > self.m.max_payload_bytes

    # ------------------------------------------------------------------ endings

    def cancel_frames(self, keep: set[int] | None = None) -> None:
        """Drop every frame (but those in `keep`), cancelling their tasks and timers."""
        rs = self.rs
        for fid in list(rs.frames):
            if keep is not None and fid in keep:
                continue
            f = rs.frames.pop(fid)
            if f.task is not None and rs.tasks.pop(f.task, None) is not None:
                self.actions.append(CancelTask(f.task))
        for tid, entry in list(rs.timers.items()):
            if entry[0] != "execution" and entry[1] not in rs.frames:
                del rs.timers[tid]

    def cancel_children(self, parent: Frame) -> None:
        """Drop every descendant of `parent`."""
        rs = self.rs
        doomed = {parent.fid}
        changed = True
        while changed:
            changed = False
            for f in rs.frames.values():
                if f.parent in doomed and f.fid not in doomed:
                    doomed.add(f.fid)
                    changed = True
        doomed.discard(parent.fid)
        self.cancel_frames(keep=set(rs.frames) - doomed)

    def succeed_execution(self, output: Any) -> None:
        rs = self.rs
        if self.too_large(output):
            self.fail_execution(STATES_DATA_LIMIT_EXCEEDED, "The execution output exceeds the maximum number of bytes service limit.")
            return
        rs.status, rs.output = "SUCCEEDED", output
        self.emit(None, "ExecutionSucceeded", {"output": output})
        self.close()
        self.actions.append(Finished("SUCCEEDED", output))

    def fail_execution(self, error: str | None, cause: str | None) -> None:
        rs = self.rs
        rs.status, rs.error, rs.cause = "FAILED", error, cause
        self.emit(None, "ExecutionFailed", failure_details(error, cause))
        self.close()
        self.actions.append(Finished("FAILED", None, error, cause))

    def finish_abnormally(self, status: str, event_type: str, error: str | None, cause: str | None) -> None:
        rs = self.rs
        self.remember_redrive()
        rs.status, rs.error, rs.cause = status, error, cause
        self.emit(None, event_type, failure_details(error, cause))
        self.close()
        self.actions.append(Finished(status, None, error, cause))

    def close(self) -> None:
        self.cancel_frames()
        self.rs.timers.clear()
        self.queue.clear()

    def frame_succeeded(self, frame: Frame, output: Any) -> None:
        rs = self.rs
        rs.frames.pop(frame.fid, None)
        if frame.parent is None:
            self.succeed_execution(output)
            return
        parent = rs.frames.get(frame.parent)
        if parent is None or parent.work is None:
            return
        work = parent.work
        work["children"].pop(frame.index, None)
        work["results"][frame.index] = output
        work.setdefault("done", []).append(frame.index)
        work["running"] -= 1
        if work["kind"] == "map" and not work["distributed"]:
            self.emit(parent, "MapIterationSucceeded", {"index": frame.index, "name": parent.state})
        self.wake(parent)

    def frame_failed(self, frame: Frame, error: str | None, cause: str | None) -> None:
        rs = self.rs
        rs.frames.pop(frame.fid, None)
        if frame.parent is None:
            self.remember_redrive(frame)
            self.fail_execution(error, cause)
            return
        parent = rs.frames.get(frame.parent)
        if parent is None or parent.work is None:
            return
        work = parent.work
        work["children"].pop(frame.index, None)
        work["running"] -= 1
        if work["kind"] == "map":
            if not work["distributed"]:
                self.emit(parent, "MapIterationFailed", {"index": frame.index, "name": parent.state, **failure_details(error, cause)})
            work["failed"] += 1
            if self.tolerated(work):
                work["results"][frame.index] = error_output(error, cause)
                self.wake(parent)
                return
            if work["distributed"]:
                # A Map Run fails as a whole once its failures exceed the threshold (0 by default).
                error, cause = STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded"
        if work.get("failure") is None:
            work["failure"] = [error, cause]
        self.wake(parent)

    def tolerated(self, work: Mapping[str, Any]) -> bool:
        """Whether the failures so far stay within ToleratedFailureCount/Percentage."""
        count, pct = work["tolerated_count"], work["tolerated_pct"]
        if count is None and pct is None:
            return False
        failed, total = work["failed"], max(len(work["items"]), 1)
        if count is not None and failed > count:
            return False
        return not (pct is not None and failed * 100.0 / total > pct)

    # ------------------------------------------------------------------ the frame loop

    def run(self, frame: Frame, error: tuple[str | None, str | None] | None = None) -> None:
        """Advance a frame until it blocks, ends or fails."""
        programs = self.m.programs
        self.active.add(frame.fid)
        try:
            while True:
                st = programs[frame.program].states[frame.state]
                if error is not None:
                    outcome = self.on_error(frame, st, error[0], error[1])
                    error = None
                else:
                    try:
                        if frame.phase == ENTER:
                            self.enter(frame, st)
                        outcome = _HANDLERS[st.type](self, frame, st)
                    except AslRuntimeError as exc:
                        outcome = self.on_error(frame, st, exc.error, self.prefixed(frame, exc))
                    except _StateFailure as exc:
                        outcome = self.on_error(frame, st, exc.error, exc.cause)
                    except (RecursionError, MemoryError):
                        raise
                    except Exception as exc:  # noqa: BLE001 - a run fails, the caller never crashes
                        outcome = self.on_error(frame, st, STATES_RUNTIME, self.prefixed(
                            frame, AslRuntimeError(STATES_RUNTIME, f"Internal error: {type(exc).__name__}: {exc}")))
                if outcome != _CONTINUE:
                    return
        finally:
            self.active.discard(frame.fid)

    def prefixed(self, frame: Frame, exc: AslRuntimeError) -> str:
        if exc.error == STATES_DATA_LIMIT_EXCEEDED:
            return exc.cause
        return f"An error occurred while executing the state '{frame.state}' (entered at the event id #{frame.entered_event}). {exc.cause}"

    def enter(self, frame: Frame, st: State) -> None:
        frame.entered_event = self.emit(frame, st.type + "StateEntered", {"name": st.name, "input": frame.input})
        frame.entered_time = self.now_text
        frame.retry_count = 0
        frame.retry_counts = [0] * len(st.retry)
        frame.phase = EXEC

    def exit(self, frame: Frame, st: State, output: Any, assigned: Mapping[str, Any] | None) -> int:
        """Leave the state: apply variables, record the exit, move to Next or end the frame."""
        if assigned:
            # Children's ChainMaps hold this dict itself, so updating in place keeps them right.
            frame.vars.update(assigned)
        self.emit(frame, st.type + "StateExited", {"name": st.name, "output": output})
        nxt = st.next
        if nxt is None or st.end:
            if st.type == "Fail":
                return _DONE
            self.frame_succeeded(frame, output)
            return _DONE
        frame.state = nxt
        frame.input = output
        frame.phase = ENTER
        return _CONTINUE

    # ------------------------------------------------------------------ errors

    def on_error(self, frame: Frame, st: State, error: str | None, cause: str | None) -> int:
        rs = self.rs
        kept: dict[str, Any] | None = None
        if frame.work is not None:
            work = frame.work
            if frame.parent is None and work.get("kind") in ("map", "parallel") and work.get("done"):
                kept = {"state": frame.state, "done": {str(i): work["results"][i] for i in work["done"]}}
            self.cancel_children(frame)
            frame.work = None
        name = error if error is not None else ""
        if name not in NOT_CATCHABLE:
            for i, retrier in enumerate(st.retry):
                if not _matches(retrier.error_equals, error):
                    continue
                attempt = frame.retry_counts[i]
                if attempt >= retrier.max_attempts:
                    break
                frame.retry_counts[i] = attempt + 1
                frame.retry_count += 1
                delay = retrier.interval_seconds * (retrier.backoff_rate ** attempt)
                if retrier.max_delay_seconds is not None:
                    delay = min(delay, retrier.max_delay_seconds)
                if retrier.jitter_full:
                    rng = random.Random(f"{rs.seed}:{rs.jitter_draws}")
                    rs.jitter_draws += 1
                    delay = rng.uniform(0, delay)
                frame.phase = EXEC
                if delay <= 0:
                    return _CONTINUE
                timer_id = f"retry-{frame.fid}-{rs.next_event_id}"
                rs.timers[timer_id] = ["retry", frame.fid]
                frame.phase = WAITING
                self.actions.append(StartTimer(timer_id, self.now + timedelta(seconds=delay)))
                return _BLOCK
            for catcher in st.catch:
                if not _matches(catcher.error_equals, error):
                    continue
                return self.caught(frame, st, catcher, error, cause)
        self.failed_work = kept
        self.emit_state_failed(frame, st, error, cause)
        self.frame_failed(frame, error, cause)
        return _DONE

    def emit_state_failed(self, frame: Frame, st: State, error: str | None, cause: str | None) -> None:
        if st.type in ("Map", "Parallel") and frame.phase == CHILDREN:
            self.emit(frame, st.type + "StateFailed", failure_details(error, cause))

    def caught(self, frame: Frame, st: State, catcher: Any, error: str | None, cause: str | None) -> int:
        err_out = error_output(error, cause)
        variables = self.scope(frame)
        try:
            if st.query_language == JSONATA:
                states = {"input": frame.input, "context": self.context(frame, st), "errorOutput": err_out}
                assigned = catcher.assign.evaluate(states, variables) if catcher.assign is not None else None
                output = catcher.output.evaluate(states, variables) if catcher.has_output else err_out
            else:
                ctx = self.context(frame, st)
                assigned = catcher.assign.render(err_out, ctx, variables) if catcher.assign is not None else None
                if catcher.discard_result:
                    output = frame.input
                elif catcher.result_path is not None:
                    output = catcher.result_path.assign(frame.input, err_out)
                else:
                    output = err_out
        except AslRuntimeError as exc:
            self.frame_failed(frame, exc.error, self.prefixed(frame, exc))
            return _DONE
        if assigned:
            frame.vars.update(assigned)
        self.emit(frame, st.type + "StateExited", {"name": st.name, "output": output})
        frame.state = catcher.next
        frame.input = output
        frame.phase = ENTER
        frame.work = None
        return _CONTINUE

    # ------------------------------------------------------------------ shared data flow

    def effective_input(self, frame: Frame, st: State, ctx: Any, variables: Mapping[str, Any]) -> Any:
        if st.discard_input:
            return {}
        if st.input_path is not None:
            return st.input_path.select(frame.input, ctx, variables)
        return frame.input

    def finish_jsonpath(self, frame: Frame, st: State, result: Any, ctx: Any, variables: Mapping[str, Any]) -> int:
        """Assign, ResultPath, OutputPath, then leave the state."""
        assigned = st.assign.render(result, ctx, variables) if st.assign is not None else None
        if st.discard_result:
            output = frame.input
        elif st.result_path is not None:
            output = st.result_path.assign(frame.input, result)
        else:
            output = result
        output = self.output_path(st, output, ctx, variables)
        return self.exit(frame, st, output, assigned)

    def output_path(self, st: State, data: Any, ctx: Any, variables: Mapping[str, Any]) -> Any:
        if st.discard_output:
            return {}
        if st.output_path is not None:
            return st.output_path.select(data, ctx, variables)
        return data

    def finish_jsonata(self, frame: Frame, st: State, states: dict[str, Any], default: Any) -> int:
        variables = self.scope(frame)
        assigned = st.assign.evaluate(states, variables) if st.assign is not None else None
        output = st.output.evaluate(states, variables) if st.output is not None else default
        return self.exit(frame, st, output, assigned)

    def number_field(self, frame: Frame, st: State, value: Any, path: Any, field_name: str,
                     states: dict[str, Any] | None, data: Any, ctx: Any, integer: bool) -> Any:
        """Resolve a literal / Path / JSONata numeric field (TimeoutSeconds, MaxConcurrency, …)."""
        variables = self.scope(frame)
        if path is not None:
            raw = path.select(data, ctx, variables)
            number = _as_number(raw, integer)
            if number is None:
                kind = "integer" if integer else "float"
                shown = to_json_text(raw) if not isinstance(raw, str) else raw
                raise AslRuntimeError(STATES_RUNTIME, f"The {field_name}Path field refers to value \"{shown}\" which is not a valid {kind}: {path.text}")
            return number
        if value is not None and hasattr(value, "evaluate"):
            raw = value.evaluate(states or {}, variables)
            number = _as_number(raw, integer)
            if number is None:
                raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR,
                                      f"The {field_name} field evaluated to an invalid value: {to_json_text(raw)}")
            return number
        return value

    # ------------------------------------------------------------------ state types

    def do_pass(self, frame: Frame, st: State) -> int:
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": self.context(frame, st)}
            return self.finish_jsonata(frame, st, states, frame.input)
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        data = self.effective_input(frame, st, ctx, variables)
        if st.parameters is not None:
            result = st.parameters.render(data, ctx, variables)
        elif st.has_result:
            if st.result_too_large:
                raise AslRuntimeError(STATES_DATA_LIMIT_EXCEEDED,
                                      f"The state/task '{st.name}' returned a result with a size exceeding the maximum number of bytes service limit.")
            result = st.result
        else:
            result = data
        return self.finish_jsonpath(frame, st, result, ctx, variables)

    def do_succeed(self, frame: Frame, st: State) -> int:
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": self.context(frame, st)}
            return self.finish_jsonata(frame, st, states, frame.input)
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        data = self.effective_input(frame, st, ctx, variables)
        return self.exit(frame, st, self.output_path(st, data, ctx, variables), None)

    def do_fail(self, frame: Frame, st: State) -> int:
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        error, cause = st.error, st.cause
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": ctx}
            if error is not None and hasattr(error, "evaluate"):
                error = error.evaluate(states, variables)
            if cause is not None and hasattr(cause, "evaluate"):
                cause = cause.evaluate(states, variables)
        else:
            if st.error_path is not None:
                error = st.error_path.evaluate("ErrorPath", frame.input, ctx, variables)
            if st.cause_path is not None:
                cause = st.cause_path.evaluate("CausePath", frame.input, ctx, variables)
        error = error if error is None or isinstance(error, str) else to_json_text(error)
        cause = cause if cause is None or isinstance(cause, str) else to_json_text(cause)
        self.frame_failed(frame, error, cause)
        return _DONE

    def do_choice(self, frame: Frame, st: State) -> int:
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        jsonata = st.query_language == JSONATA
        data = frame.input if jsonata else self.effective_input(frame, st, ctx, variables)
        for i, rule in enumerate(st.choices):
            if rule.matches(data, ctx, variables):
                return self.choose(frame, st, rule.next or "", i, data, ctx, variables)
        if st.default is None:
            raise _no_choice()
        return self.choose(frame, st, st.default, -1, data, ctx, variables)

    def choose(self, frame: Frame, st: State, nxt: str, index: int, data: Any, ctx: Any,
               variables: Mapping[str, Any]) -> int:
        rule_assign = st.choice_assign[index] if index >= 0 else None
        rule_output = st.choice_output[index] if index >= 0 else None
        assigned: dict[str, Any] = {}
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": ctx}
            if st.assign is not None:
                assigned.update(st.assign.evaluate(states, variables))
            if rule_assign is not None:
                assigned.update(rule_assign.evaluate(states, variables))
            if rule_output is not None:
                output = rule_output.evaluate(states, variables)
            elif st.output is not None:
                output = st.output.evaluate(states, variables)
            else:
                output = frame.input
        else:
            if st.assign is not None:
                assigned.update(st.assign.render(data, ctx, variables))
            if rule_assign is not None:
                assigned.update(rule_assign.render(data, ctx, variables))
            output = self.output_path(st, data, ctx, variables)
        if assigned:
            frame.vars.update(assigned)
        self.emit(frame, "ChoiceStateExited", {"name": st.name, "output": output})
        frame.state = nxt
        frame.input = output
        frame.phase = ENTER
        return _CONTINUE

    def do_wait(self, frame: Frame, st: State) -> int:
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        if frame.phase == WAITING:
            return _BLOCK
        if frame.phase == TASK_DONE:  # the timer fired
            if st.query_language == JSONATA:
                return self.finish_jsonata(frame, st, {"input": frame.input, "context": ctx}, frame.input)
            data = self.effective_input(frame, st, ctx, variables)
            assigned = st.assign.render(data, ctx, variables) if st.assign is not None else None
            return self.exit(frame, st, self.output_path(st, data, ctx, variables), assigned)
        due = self.wait_until(frame, st, ctx, variables)
        if due <= self.now:
            frame.phase = TASK_DONE
            return _CONTINUE
        timer_id = f"wait-{frame.fid}-{frame.entered_event}"
        self.rs.timers[timer_id] = ["wait", frame.fid]
        frame.phase = WAITING
        self.actions.append(StartTimer(timer_id, due))
        return _BLOCK

    def wait_until(self, frame: Frame, st: State, ctx: Any, variables: Mapping[str, Any]) -> datetime:
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": ctx}
            if st.seconds is not None:
                value = st.seconds.evaluate(states, variables) if hasattr(st.seconds, "evaluate") else st.seconds
                if not (isinstance(value, (int, float)) and not isinstance(value, bool)) or value != int(value) or value < 0:
                    raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR,
                                          f"The Seconds field evaluated to an invalid value: {to_json_text(value)}")
                return _later(self.now, int(value))
            value = st.timestamp.evaluate(states, variables) if hasattr(st.timestamp, "evaluate") else st.timestamp
            moment = parse_timestamp(value)
            if moment is None:
                shown = value if isinstance(value, str) else to_json_text(value)
                raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR,
                                      f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}")
            return moment
        data = self.effective_input(frame, st, ctx, variables)
        if st.seconds is not None:
            return _later(self.now, st.seconds)
        if st.timestamp is not None:
            moment = parse_timestamp(st.timestamp)
            if moment is None:
                raise AslRuntimeError(STATES_RUNTIME, f"The Timestamp field cannot be parsed: {st.timestamp}")
            return moment
        if st.seconds_path is not None:
            path = st.seconds_path
            if not path.exists(data, ctx, variables):
                raise AslRuntimeError(STATES_RUNTIME, f"The SecondsPath parameter does not reference an input value: {path.text}")
            value = path.select(data, ctx, variables)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)) or value != int(value):
                raise AslRuntimeError(STATES_RUNTIME, f"The SecondsPath parameter cannot be parsed as a long value: {path.text} == {to_json_text(value)}")
            if value < 0:
                raise AslRuntimeError(STATES_RUNTIME, f"The SecondsPath parameter references a negative value: {path.text} == {to_json_text(value)}")
            return _later(self.now, int(value))
        assert st.timestamp_path is not None
        path = st.timestamp_path
        if not path.exists(data, ctx, variables):
            raise AslRuntimeError(STATES_RUNTIME, f"The TimestampPath parameter does not reference an input value: {path.text}")
        value = path.select(data, ctx, variables)
        moment = parse_timestamp(value)
        if moment is None:
            shown = value if isinstance(value, str) else to_json_text(value)
            raise AslRuntimeError(STATES_RUNTIME,
                                  f"The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path.text} == {shown}")
        return moment

    def do_task(self, frame: Frame, st: State) -> int:
        if frame.phase == TASK:
            return _BLOCK
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        jsonata = st.query_language == JSONATA
        if frame.phase == TASK_DONE:
            result = frame.result
            frame.result = None
            if jsonata:
                states = {"input": frame.input, "context": ctx, "result": result}
                return self.finish_jsonata(frame, st, states, result)
            if st.result_selector is not None:
                result = st.result_selector.render(result, ctx, variables)
            return self.finish_jsonpath(frame, st, result, ctx, variables)
        token = None
        if st.resource.endswith(".waitForTaskToken"):
            token = f"{self.rs.context['Execution']['Id']}:{frame.fid}:{self.rs.next_event_id}"
            ctx = dict(ctx) if ctx else dict(self.rs.context)
            ctx["Task"] = {"Token": token}
            ctx.setdefault("State", {"EnteredTime": frame.entered_time, "Name": frame.state, "RetryCount": frame.retry_count})
        if jsonata:
            states = {"input": frame.input, "context": ctx}
            task_input = st.arguments.evaluate(states, variables) if st.arguments is not None else frame.input
            timeout = self.number_field(frame, st, st.timeout, None, "TimeoutSeconds", states, None, ctx, True)
            heartbeat = self.number_field(frame, st, st.heartbeat, None, "HeartbeatSeconds", states, None, ctx, True)
        else:
            data = self.effective_input(frame, st, ctx, variables)
            task_input = st.parameters.render(data, ctx, variables) if st.parameters is not None else data
            timeout = self.number_field(frame, st, st.timeout, st.timeout_path, "TimeoutSeconds", None, data, ctx, True)
            heartbeat = self.number_field(frame, st, st.heartbeat, st.heartbeat_path, "HeartbeatSeconds", None, data, ctx, True)
        rs = self.rs
        task_id = f"t{rs.next_task}"
        rs.next_task += 1
        rs.tasks[task_id] = frame.fid
        frame.task = task_id
        frame.phase = TASK
        prefix = task_event_prefix(st.resource)
        details: dict[str, Any] = (
            {"resource": st.resource, "input": task_input} if prefix == "LambdaFunction"
            else {**resource_details(st.resource), "region": resource_region(st.resource), "parameters": task_input}
        )
        if timeout is not None:
            details["timeoutInSeconds"] = timeout
        if heartbeat is not None:
            details["heartbeatInSeconds"] = heartbeat
        self.emit(frame, prefix + "Scheduled", details)
        self.emit(frame, prefix + "Started", resource_details(st.resource))
        self.actions.append(RunTask(task_id, st.resource, task_input, st.name, timeout, heartbeat, token))
        if timeout is not None:
            timer_id = f"timeout-{task_id}"
            rs.timers[timer_id] = ["task-timeout", frame.fid]
            self.actions.append(StartTimer(timer_id, self.now + timedelta(seconds=timeout)))
        if heartbeat is not None:
            self.start_heartbeat(task_id, frame.fid, heartbeat)
        return _BLOCK

    def clear_task_timers(self, fid: int) -> None:
        timers = self.rs.timers
        for timer_id in [t for t, e in timers.items() if e[1] == fid and e[0] in ("task-timeout", "task-heartbeat")]:
            del timers[timer_id]

    def start_heartbeat(self, task_id: str, fid: int, seconds: int) -> None:
        timer_id = f"heartbeat-{task_id}-{self.rs.next_event_id}-{len(self.actions)}"
        self.rs.timers[timer_id] = ["task-heartbeat", fid, seconds]
        self.actions.append(StartTimer(timer_id, self.now + timedelta(seconds=seconds)))

    # ------------------------------------------------------------------ Parallel and Map

    def do_parallel(self, frame: Frame, st: State) -> int:
        if frame.phase == CHILDREN:
            return self.children(frame, st)
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": ctx}
            branch_input = st.arguments.evaluate(states, variables) if st.arguments is not None else frame.input
        else:
            data = self.effective_input(frame, st, ctx, variables)
            branch_input = st.parameters.render(data, ctx, variables) if st.parameters is not None else data
        self.emit(frame, "ParallelStateStarted")
        n = len(st.branches)
        frame.work = {
            "kind": "parallel", "distributed": False, "items": [branch_input] * n, "next": 0, "running": 0,
            "results": [None] * n, "children": {}, "failed": 0, "failure": None, "concurrency": 0,
            "tolerated_count": None, "tolerated_pct": None,
        }
        self.keep_resumed(frame, n)
        frame.phase = CHILDREN
        return self.children(frame, st)

    def do_map(self, frame: Frame, st: State) -> int:
        if frame.phase == CHILDREN:
            return self.children(frame, st)
        if frame.phase == TASK:
            return _BLOCK
        if frame.phase == TASK_DONE and frame.work is not None and frame.work.get("kind") == "writer":
            details, results = frame.result, frame.work["results"]
            frame.result, frame.work = None, None
            return self.finish_parent(frame, st, {"MapRunArn": self.map_run_arn(frame), "ResultWriterDetails": details}, results)
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        jsonata = st.query_language == JSONATA
        states: dict[str, Any] | None = None
        if jsonata:
            states = {"input": frame.input, "context": ctx}
            data = frame.input
        else:
            data = self.effective_input(frame, st, ctx, variables)
        if st.item_reader is not None:
            if frame.phase != TASK_DONE:
                reader = st.item_reader
                params = self.task_payload(reader.parameters, states, data, ctx, variables)
                return self.internal_task(frame, st, "reader", reader.resource, params)
            items = parse_items(st.item_reader, frame.result)
            frame.result, frame.work = None, None
        elif jsonata:
            assert states is not None
            if st.has_items:
                items = st.items.evaluate(states, variables) if hasattr(st.items, "evaluate") else st.items
                if not isinstance(items, list):
                    raise unexpected_type_error(st.items_text, "Items", "array", items)
            else:
                items = frame.input
                if not isinstance(items, list):
                    raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {to_json_text(items)}")
        else:
            items = st.items_path.select(data, ctx, variables) if st.items_path is not None else data
            if not isinstance(items, list):
                raise AslRuntimeError(STATES_RUNTIME, f"Map state input must be an array but was: {to_json_text(items)}")
        self.emit(frame, "MapStateStarted", {"length": len(items)})
        concurrency = self.number_field(frame, st, st.max_concurrency, st.max_concurrency_path, "MaxConcurrency", states, data, ctx, True)
        count = self.number_field(frame, st, st.tolerated_count, st.tolerated_count_path, "ToleratedFailureCount", states, data, ctx, True)
        pct = self.number_field(frame, st, st.tolerated_percentage, st.tolerated_percentage_path, "ToleratedFailurePercentage", states, data, ctx, False)
        if count is not None and count < 0:
            raise AslRuntimeError(STATES_RUNTIME, "ToleratedFailureCount cannot be negative.")
        if pct is not None and not 0 <= pct <= 100:
            raise AslRuntimeError(STATES_RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
        if concurrency is not None and concurrency < 0:
            raise AslRuntimeError(STATES_RUNTIME, "MaxConcurrency cannot be negative.")
        inputs = self.map_inputs(frame, st, items, data, ctx, variables, states)
        if st.distributed:
            self.emit(frame, "MapRunStarted")
        frame.work = {
            "kind": "map", "distributed": st.distributed, "items": inputs, "next": 0, "running": 0,
            "results": [None] * len(inputs), "children": {}, "failed": 0, "failure": None,
            "concurrency": concurrency or 0, "tolerated_count": count, "tolerated_pct": pct,
        }
        self.keep_resumed(frame, len(inputs))
        frame.phase = CHILDREN
        return self.children(frame, st)

    def keep_resumed(self, frame: Frame, n: int) -> None:
        kept = self.resumed_results(frame, n)
        if kept:
            work = frame.work
            assert work is not None
            for i, value in kept.items():
                work["results"][i] = value
            work["done"] = sorted(kept)
            work["order"] = [i for i in range(n) if i not in kept]

    def task_payload(self, template: Any, states: dict[str, Any] | None, data: Any, ctx: Any,
                     variables: Mapping[str, Any]) -> Any:
        if template is None:
            return {}
        if states is not None:
            return template.evaluate(states, variables)
        return template.render(data, ctx, variables)

    def internal_task(self, frame: Frame, st: State, kind: str, resource: str, task_input: Any,
                      results: Any = None) -> int:
        """A task the Map state itself needs (reading items, writing results)."""
        rs = self.rs
        task_id = f"t{rs.next_task}"
        rs.next_task += 1
        rs.tasks[task_id] = frame.fid
        frame.task = task_id
        frame.phase = TASK
        frame.work = {"kind": kind, "results": results}
        self.actions.append(RunTask(task_id, resource, task_input, st.name))
        return _BLOCK

    def map_run_arn(self, frame: Frame) -> str:
        execution = str(self.rs.context["Execution"]["Id"]).replace(":execution:", ":mapRun:")
        return f"{execution}/{frame.state}:{frame.entered_event}"

    def map_inputs(self, frame: Frame, st: State, items: list[Any], data: Any, ctx: Any,
                   variables: Mapping[str, Any], states: dict[str, Any] | None) -> list[Any]:
        """Each iteration's input: ItemSelector applied per item, then ItemBatcher batches."""
        if st.item_selector is not None:
            items = self.select_items(frame, st, items, data, ctx, variables, states)
        if st.batcher is not None:
            return self.batches(frame, st, items, data, ctx, variables, states)
        return list(items)

    def select_items(self, frame: Frame, st: State, items: list[Any], data: Any, ctx: Any,
                     variables: Mapping[str, Any], states: dict[str, Any] | None) -> list[Any]:
        base_ctx = ctx if ctx else dict(self.rs.context)
        if "State" not in base_ctx:
            base_ctx = dict(base_ctx)
            base_ctx["State"] = {"EnteredTime": frame.entered_time, "Name": frame.state, "RetryCount": frame.retry_count}
        out = []
        for i, item in enumerate(items):
            item_ctx = dict(base_ctx)
            item_ctx["Map"] = {"Item": {"Index": i, "Value": item}}
            if states is not None:
                s = dict(states)
                s["context"] = item_ctx
                out.append(st.item_selector.evaluate(s, variables))
            else:
                out.append(st.item_selector.render(data, item_ctx, variables))
        return out

    def batches(self, frame: Frame, st: State, items: list[Any], data: Any, ctx: Any,
                variables: Mapping[str, Any], states: dict[str, Any] | None) -> list[Any]:
        """Group items as ItemBatcher asks: {"BatchInput": ..., "Items": [...]} per batch."""
        max_items = self.number_field(frame, st, st.batch_max_items, st.batch_max_items_path,
                                      "MaxItemsPerBatch", states, data, ctx, True)
        max_bytes = self.number_field(frame, st, st.batch_max_bytes, st.batch_max_bytes_path,
                                      "MaxInputBytesPerBatch", states, data, ctx, True)
        if not isinstance(max_items, int) or max_items <= 0:
            max_items = len(items) or 1
        batch_input: Any = None
        if st.batch_input is not None:
            batch_input = (st.batch_input.evaluate(states, variables) if states is not None
                           else st.batch_input.render(data, ctx, variables))
        return group_batches(items, max_items, max_bytes if isinstance(max_bytes, int) else None, batch_input)

    def children(self, frame: Frame, st: State) -> int:
        """Start branches up to the concurrency limit; finish the state when all are done."""
        work = frame.work
        assert work is not None
        # After a redrive, `order` lists the indices still to run (the others kept results).
        order: list[int] | None = work.get("order")
        n = len(work["items"]) if order is None else len(order)
        limit = work["concurrency"]
        is_map = work["kind"] == "map"
        while work["failure"] is None and work["next"] < n and (limit == 0 or work["running"] < limit):
            idx = work["next"] if order is None else order[work["next"]]
            work["next"] += 1
            work["running"] += 1
            program = st.processor if is_map else st.branches[idx]
            child = self.new_frame(frame, idx, program, work["items"][idx])
            if is_map and work["distributed"]:
                child.isolated = True
                child.log, child.events, child.last_event = child.fid, 1, 1
            work["children"][idx] = child.fid
            if is_map and not work["distributed"]:
                self.emit(frame, "MapIterationStarted", {"index": idx, "name": st.name})
                child.last_event = frame.last_event
            self.run(child)
            if self.rs.status != "RUNNING":
                return _DONE
        if work["failure"] is not None:
            error, cause = work["failure"]
            self.cancel_children(frame)
            if is_map and work["distributed"]:
                self.emit(frame, "MapRunFailed", failure_details(error, cause))
            raise _StateFailure(error, cause)
        if work["running"] > 0 or work["next"] < n:
            return _BLOCK
        results = work["results"]
        frame.work = None
        if is_map and st.result_writer is not None:
            ctx = self.context(frame, st)
            variables = self.scope(frame)
            jsonata = st.query_language == JSONATA
            states = {"input": frame.input, "context": ctx} if jsonata else None
            data = frame.input if jsonata else self.effective_input(frame, st, ctx, variables)
            params = self.task_payload(st.result_writer.parameters, states, data, ctx, variables)
            payload = {**(params if isinstance(params, dict) else {}), "MapRunArn": self.map_run_arn(frame), "Results": results}
            return self.internal_task(frame, st, "writer", st.result_writer.resource, payload, results)
        return self.finish_parent(frame, st, results, results)

    def finish_parent(self, frame: Frame, st: State, output: Any, results: Any) -> int:
        """Map/Parallel succeeded: record it, then ResultSelector/Output and the rest."""
        if st.type == "Map" and st.distributed:
            self.emit(frame, "MapRunSucceeded")
        self.emit(frame, st.type + "StateSucceeded")
        ctx = self.context(frame, st)
        variables = self.scope(frame)
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": ctx, "result": output}
            return self.finish_jsonata(frame, st, states, output)
        if st.result_selector is not None:
            output = st.result_selector.render(output, ctx, variables)
        return self.finish_jsonpath(frame, st, output, ctx, variables)


def _later(now: datetime, seconds: int) -> datetime:
    """`now` plus a Wait's seconds; a wait past the calendar's end waits until its end."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _no_choice() -> AslRuntimeError:
    return AslRuntimeError(STATES_NO_CHOICE_MATCHED, "No Matches!")


def _as_number(value: Any, integer: bool) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            return None
    if isinstance(value, float) and integer:
        return int(value) if value == int(value) else None
    if isinstance(value, (int, float)):
        return value
    return None


_HANDLERS: dict[str, Any] = {
    "Pass": _Stepper.do_pass,
    "Task": _Stepper.do_task,
    "Choice": _Stepper.do_choice,
    "Wait": _Stepper.do_wait,
    "Succeed": _Stepper.do_succeed,
    "Fail": _Stepper.do_fail,
    "Parallel": _Stepper.do_parallel,
    "Map": _Stepper.do_map,
}
