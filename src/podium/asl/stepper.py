"""The Stepper: applies one event to a run state (see `podium.asl.step` for the contract).

It holds what every state type shares: history events and ids, variable scopes and the
context object, event dispatch, the start, redrive and endings of an execution, a frame's
success or failure reported to its Map/Parallel parent, the frame loop that calls the
state-type handlers (`podium.asl.state_types`, `podium.asl.branches`), entering and leaving
a state with the JSONPath/JSONata data flow, and the payload size limit. Retry and Catch are
in `podium.asl.recovery`.
"""

from __future__ import annotations

from collections import ChainMap, deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from podium.asl import branches, recovery, state_types
from podium.asl.definition import State, StateMachine
from podium.asl.entropy import seeded
from podium.asl.errors import (
    STATES_DATA_LIMIT_EXCEEDED,
    STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
    STATES_HEARTBEAT_TIMEOUT,
    STATES_ITEM_READER_FAILED,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RESULT_WRITER_FAILED,
    STATES_RUNTIME,
    STATES_TIMEOUT,
    AslRuntimeError,
    StateFailure,
    TerminalError,
    error_output,
)
from podium.asl.events import (
    Action,
    CancelTask,
    Event,
    Finished,
    HistoryEvent,
    RedriveExecution,
    StartExecution,
    StartTimer,
    StopExecution,
    TaskFailed,
    TaskHeartbeat,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
    failure_details,
)
from podium.asl.jsonpath import to_json_text
from podium.asl.limits import exact_size, merged_bound, size_bound
from podium.asl.runstate import CONTINUE, DONE, ENTER, EXEC, TASK_DONE, Frame, RunState
from podium.asl.timestamps import format_timestamp

# States whose context object carries State.RetryCount (the ones that may have Retry).
_RETRYABLE = frozenset({"Task", "Parallel", "Map"})
# No value is this one (Stepper.sized before a task result arrives).
_UNSIZED = object()
# Calling a frozen dataclass sets each field through object.__setattr__ by name, which costs
# three times setting its slots through their descriptors: a Task's step records five events,
# so Stepper.emit builds them this way (the same objects: class, fields, equality, hash).
_new = object.__new__
_set_id, _set_previous, _set_type, _set_timestamp, _set_details = (
    getattr(HistoryEvent, name).__set__ for name in HistoryEvent.__slots__)


class Stepper:
    """Applies one event to a run state; collects the actions and history it produces."""

    def __init__(self, machine: StateMachine, rs: RunState, now: datetime) -> None:
        self.m = machine
        self.rs = rs
        self.now = now
        self.now_text = format_timestamp(now)
        self.actions: list[Action] = []
        self.history: list[HistoryEvent] = []
        self.queue: deque[int] = deque()
        self.active: set[int] = set()
        # The last task result and its size bound (see finish_jsonpath).
        self.sized: tuple[Any, int] = (_UNSIZED, -1)
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
        rs = self.rs
        eid = rs.next_event_id
        rs.next_event_id = eid + 1
        if frame is not None:
            prev = frame.last_event
            frame.last_event = eid
        else:
            prev = eid - 1
        # HistoryEvent(eid, prev, typ, self.now, details or {}), built faster (see _new).
        event = _new(HistoryEvent)
        _set_id(event, eid)
        _set_previous(event, prev)
        _set_type(event, typ)
        _set_timestamp(event, self.now)
        _set_details(event, details or {})
        self.history.append(event)
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

    def new_frame(self, parent: Frame | None, index: int, program: int, data: Any, size: int = -1) -> Frame:
        fid = self.rs.next_frame
        self.rs.next_frame = fid + 1
        prog = self.m.programs[program]
        f = Frame(fid, parent.fid if parent is not None else None, index, program, prog.start_at, data)
        if parent is not None:
            f.last_event = parent.last_event
            f.log = parent.log
        f.size = size
        self.rs.frames[fid] = f
        return f

    def wake(self, frame: Frame) -> None:
        if frame.fid not in self.active and frame.fid not in self.queue:
            self.queue.append(frame.fid)

    # ------------------------------------------------------------------ events

    def handle(self, event: Event) -> None:
        with seeded(self.rs):
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
            if rs.timers:
                self.clear_task_timers(fid)
            st = self.m.programs[frame.program].states[frame.state]
            out = event.output
            frame.task = None
            limit = self.m.max_payload_bytes
            bound = size_bound(out)
            if bound > limit:
                bound = exact_size(out)
            if bound > limit:
                # AWS records an oversized result as the task's failure (TaskFailed /
                # LambdaFunctionFailed), which Retry and Catch - States.ALL included - then see.
                # It names a service integration by its service ('lambda') and a plain
                # function ARN by the ARN (LocalStack's AWS-validated test_states_errors).
                if st.type == "Task":
                    details = st.resource_fields
                    what = details.get("resourceType", st.resource).split(":", 1)[0] if details else st.resource
                else:
                    what = frame.state
                too_big = f"The state/task '{what}' returned a result with a size exceeding the maximum number of bytes service limit."
                if st.type == "Task":
                    self.emit(frame, st.event_prefix + "Failed",
                              {**st.resource_fields, **failure_details(STATES_DATA_LIMIT_EXCEEDED, too_big)})
                frame.phase = EXEC
                self.run(frame, (STATES_DATA_LIMIT_EXCEEDED, too_big))
                return
            if st.type == "Task":
                self.emit(frame, st.event_prefix + "Succeeded", {**st.resource_fields, "output": out})
            frame.result = out
            frame.phase = TASK_DONE
            # finish_jsonpath reuses the size when the result is the state's output unchanged.
            self.sized = (out, bound)
            self.run(frame)
        elif isinstance(event, (TaskFailed, TaskTimedOut)):
            fid = rs.tasks.pop(event.task_id, None)
            if fid is None:
                return
            frame = rs.frames[fid]
            if rs.timers:
                self.clear_task_timers(fid)
            st = self.m.programs[frame.program].states[frame.state]
            kind = "Failed" if isinstance(event, TaskFailed) else "TimedOut"
            if isinstance(event, TaskTimedOut):
                self.actions.append(CancelTask(event.task_id))
            error, cause = event.error, event.cause
            if st.type == "Task":
                self.emit(frame, st.event_prefix + kind, {**st.resource_fields, **failure_details(error, cause)})
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
                self.emit(timed, st.event_prefix + "TimedOut", {"error": error})
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
        size = size_bound(ev.input)
        if size > self.m.max_payload_bytes:
            size = exact_size(ev.input)
            if size > self.m.max_payload_bytes:
                self.fail_execution(STATES_DATA_LIMIT_EXCEEDED, "The input to the execution exceeds the maximum number of bytes service limit.")
                return
        root = self.new_frame(None, 0, 0, ev.input)
        root.size = size
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

    # ------------------------------------------------------------------ payload limit

    def too_large(self, value: Any) -> bool:
        limit = self.m.max_payload_bytes
        return size_bound(value) > limit and exact_size(value) > limit

    def fit(self, st: State, value: Any, bound: int, what: str) -> int:
        """An upper bound (<= the limit) of `value`'s size, given one (`bound`, or -1 when
        unknown); raises a terminal States.DataLimitExceeded if the value is too large.
        `what` is "input" (a state's input after Parameters/Arguments) or "output"."""
        limit = self.m.max_payload_bytes
        if bound < 0:
            bound = size_bound(value)
        if bound <= limit:
            return bound
        size = exact_size(value)
        if size <= limit:
            return size
        if what == "input":
            cause = f"The state/task '{st.name}' was given an input with a size exceeding the maximum number of bytes service limit."
        else:
            cause = f"The state/task '{st.name}' returned a result with a size exceeding the maximum number of bytes service limit."
        raise TerminalError(STATES_DATA_LIMIT_EXCEEDED, cause)

    def fail_terminal(self, error: str | None, cause: str | None) -> None:
        """A terminal error (see TerminalError): the execution fails, whatever Catch says."""
        self.remember_redrive()
        self.fail_execution(error, cause)

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
        if self.rs.touched is not None:  # RunState.to_text re-encodes this frame
            self.rs.touched.add(frame.fid)
        try:
            while True:
                st = programs[frame.program].states[frame.state]
                if error is not None:
                    outcome = recovery.on_error(self, frame, st, error[0], error[1])
                    error = None
                else:
                    try:
                        if frame.phase == ENTER:
                            self.enter(frame, st)
                        outcome = HANDLERS[st.type](self, frame, st)
                    except TerminalError as exc:
                        self.fail_terminal(exc.error, exc.cause)
                        return
                    except AslRuntimeError as exc:
                        outcome = recovery.on_error(self, frame, st, exc.error, self.prefixed(frame, exc))
                    except StateFailure as exc:
                        outcome = recovery.on_error(self, frame, st, exc.error, exc.cause)
                    except (RecursionError, MemoryError):
                        raise
                    except Exception as exc:  # noqa: BLE001 - a run fails, the caller never crashes
                        outcome = recovery.on_error(self, frame, st, STATES_RUNTIME, self.prefixed(
                            frame, AslRuntimeError(STATES_RUNTIME, f"Internal error: {type(exc).__name__}: {exc}")))
                if outcome != CONTINUE:
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
        if st.retry or frame.retry_counts:  # else keep the empty list (one allocation less)
            frame.retry_counts = [0] * len(st.retry)
        frame.phase = EXEC

    def exit(self, frame: Frame, st: State, output: Any, assigned: Mapping[str, Any] | None, bound: int = -1) -> int:
        """Leave the state: check the output's size (`bound`: an upper bound of it, -1 when
        unknown), apply variables, record the exit, move to Next or end the frame."""
        if bound < 0 and output is frame.input:
            bound = frame.size
        if bound < 0 or bound > self.m.max_payload_bytes:
            bound = self.fit(st, output, bound, "output")
        if assigned:
            # Children's ChainMaps hold this dict itself, so updating in place keeps them right.
            frame.vars.update(assigned)
        self.emit(frame, st.type + "StateExited", {"name": st.name, "output": output})
        nxt = st.next
        if nxt is None or st.end:
            if st.type == "Fail":
                return DONE
            self.frame_succeeded(frame, output)
            return DONE
        frame.state = nxt
        frame.input = output
        frame.size = bound
        frame.phase = ENTER
        return CONTINUE

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
        bound = -1
        sized, size = self.sized
        if st.discard_result:
            output = frame.input
            bound = frame.size
        elif st.result_path is not None:
            output = st.result_path.assign(frame.input, result)
            if frame.size >= 0:
                size = size if result is sized else size_bound(result)
                bound = merged_bound(frame.size, size, st.result_path.text)
        else:
            output = result
            if result is sized:
                bound = size
        if st.discard_output:
            output, bound = {}, -1
        elif st.output_path is not None:
            if st.output_path.root != "$":
                bound = -1
            output = st.output_path.select(output, ctx, variables)
        return self.exit(frame, st, output, assigned, bound)

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

    # ------------------------------------------------------------------ task timers

    def clear_task_timers(self, fid: int) -> None:
        timers = self.rs.timers
        for timer_id in [t for t, e in timers.items() if e[1] == fid and e[0] in ("task-timeout", "task-heartbeat")]:
            del timers[timer_id]

    def start_heartbeat(self, task_id: str, fid: int, seconds: int) -> None:
        timer_id = f"heartbeat-{task_id}-{self.rs.next_event_id}-{len(self.actions)}"
        self.rs.timers[timer_id] = ["task-heartbeat", fid, seconds]
        self.actions.append(StartTimer(timer_id, self.now + timedelta(seconds=seconds)))


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


# The handler of each state type: (stepper, frame, state) -> CONTINUE | BLOCK | DONE.
HANDLERS: dict[str, Callable[[Stepper, Frame, State], int]] = {
    "Pass": state_types.run_pass,
    "Task": state_types.run_task,
    "Choice": state_types.run_choice,
    "Wait": state_types.run_wait,
    "Succeed": state_types.run_succeed,
    "Fail": state_types.run_fail,
    "Parallel": branches.run_parallel,
    "Map": branches.run_map,
}
