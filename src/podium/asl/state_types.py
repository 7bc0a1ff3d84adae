"""Pass, Succeed, Fail, Choice, Wait and Task states: one handler per type.

Each handler takes the `Stepper`, the frame and the compiled state and returns CONTINUE
(the frame moved on), BLOCK (it waits for a task or timer) or DONE (it ended or failed).
Parallel and Map are in `podium.asl.branches`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from podium.asl.definition import JSONATA, State
from podium.asl.errors import (
    STATES_DATA_LIMIT_EXCEEDED,
    STATES_NO_CHOICE_MATCHED,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RUNTIME,
    AslRuntimeError,
)
from podium.asl.events import StartTimer, new_run_task
from podium.asl.jsonpath import to_json_text
from podium.asl.runstate import BLOCK, CONTINUE, DONE, ENTER, TASK, TASK_DONE, WAITING, Frame
from podium.asl.timestamps import parse_timestamp

if TYPE_CHECKING:
    from podium.asl.stepper import Stepper


def run_pass(s: Stepper, frame: Frame, st: State) -> int:
    if st.query_language == JSONATA:
        states = {"input": frame.input, "context": s.context(frame, st)}
        return s.finish_jsonata(frame, st, states, frame.input)
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    data = s.effective_input(frame, st, ctx, variables)
    if st.parameters is not None:
        result = st.parameters.render(data, ctx, variables)
    elif st.has_result:
        if st.result_too_large:
            raise AslRuntimeError(STATES_DATA_LIMIT_EXCEEDED,
                                  f"The state/task '{st.name}' returned a result with a size exceeding the maximum number of bytes service limit.")
        result = st.result
    else:
        result = data
    return s.finish_jsonpath(frame, st, result, ctx, variables)


def run_succeed(s: Stepper, frame: Frame, st: State) -> int:
    if st.query_language == JSONATA:
        states = {"input": frame.input, "context": s.context(frame, st)}
        return s.finish_jsonata(frame, st, states, frame.input)
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    data = s.effective_input(frame, st, ctx, variables)
    return s.exit(frame, st, s.output_path(st, data, ctx, variables), None)


def run_fail(s: Stepper, frame: Frame, st: State) -> int:
    ctx = s.context(frame, st)
    variables = s.scope(frame)
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
    s.frame_failed(frame, error, cause)
    return DONE


def run_choice(s: Stepper, frame: Frame, st: State) -> int:
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    jsonata = st.query_language == JSONATA
    data = frame.input if jsonata else s.effective_input(frame, st, ctx, variables)
    for i, rule in enumerate(st.choices):
        if rule.matches(data, ctx, variables):
            return choose(s, frame, st, rule.next or "", i, data, ctx, variables)
    if st.default is None:
        raise _no_choice()
    return choose(s, frame, st, st.default, -1, data, ctx, variables)


def choose(s: Stepper, frame: Frame, st: State, nxt: str, index: int, data: Any, ctx: Any,
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
        output = s.output_path(st, data, ctx, variables)
    bound = s.fit(st, output, frame.size if output is frame.input else -1, "output")
    if assigned:
        frame.vars.update(assigned)
    s.emit(frame, "ChoiceStateExited", {"name": st.name, "output": output})
    frame.state = nxt
    frame.input = output
    frame.size = bound
    frame.phase = ENTER
    return CONTINUE


def run_wait(s: Stepper, frame: Frame, st: State) -> int:
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    if frame.phase == WAITING:
        return BLOCK
    if frame.phase == TASK_DONE:  # the timer fired
        if st.query_language == JSONATA:
            return s.finish_jsonata(frame, st, {"input": frame.input, "context": ctx}, frame.input)
        data = s.effective_input(frame, st, ctx, variables)
        assigned = st.assign.render(data, ctx, variables) if st.assign is not None else None
        return s.exit(frame, st, s.output_path(st, data, ctx, variables), assigned)
    due = wait_until(s, frame, st, ctx, variables)
    if due <= s.now:
        frame.phase = TASK_DONE
        return CONTINUE
    timer_id = f"wait-{frame.fid}-{frame.entered_event}"
    s.rs.timers[timer_id] = ["wait", frame.fid]
    frame.phase = WAITING
    s.actions.append(StartTimer(timer_id, due))
    return BLOCK


def wait_until(s: Stepper, frame: Frame, st: State, ctx: Any, variables: Mapping[str, Any]) -> datetime:
    if st.query_language == JSONATA:
        states = {"input": frame.input, "context": ctx}
        if st.seconds is not None:
            value = st.seconds.evaluate(states, variables) if hasattr(st.seconds, "evaluate") else st.seconds
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)) or value != int(value) or value < 0:
                raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR,
                                      f"The Seconds field evaluated to an invalid value: {to_json_text(value)}")
            return _later(s.now, int(value))
        value = st.timestamp.evaluate(states, variables) if hasattr(st.timestamp, "evaluate") else st.timestamp
        moment = parse_timestamp(value)
        if moment is None:
            shown = value if isinstance(value, str) else to_json_text(value)
            raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR,
                                  f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}")
        return moment
    data = s.effective_input(frame, st, ctx, variables)
    if st.seconds is not None:
        return _later(s.now, st.seconds)
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
        return _later(s.now, int(value))
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


def run_task(s: Stepper, frame: Frame, st: State) -> int:
    if frame.phase == TASK:
        return BLOCK
    if st.plain:
        # No data flow (see State.plain): the input goes to the task, the result is the output.
        if frame.phase == TASK_DONE:
            result = frame.result
            frame.result = None
            sized, size = s.sized
            return s.exit(frame, st, result, None, size if result is sized else -1)
        return start_task(s, frame, st, frame.input, st.timeout, st.heartbeat, None)
    ctx = s.context(frame, st) if st.uses_context else {}
    variables = s.scope(frame)
    jsonata = st.query_language == JSONATA
    if frame.phase == TASK_DONE:
        result = frame.result
        frame.result = None
        if jsonata:
            states = {"input": frame.input, "context": ctx, "result": result}
            return s.finish_jsonata(frame, st, states, result)
        if st.result_selector is not None:
            result = st.result_selector.render(result, ctx, variables)
        return s.finish_jsonpath(frame, st, result, ctx, variables)
    token = None
    if st.resource.endswith(".waitForTaskToken"):
        token = f"{s.rs.context['Execution']['Id']}:{frame.fid}:{s.rs.next_event_id}"
        ctx = dict(ctx) if ctx else dict(s.rs.context)
        ctx["Task"] = {"Token": token}
        ctx.setdefault("State", {"EnteredTime": frame.entered_time, "Name": frame.state, "RetryCount": frame.retry_count})
    timeout, heartbeat = st.timeout, st.heartbeat
    if jsonata:
        states = {"input": frame.input, "context": ctx}
        task_input = st.arguments.evaluate(states, variables) if st.arguments is not None else frame.input
        if st.dynamic_timeouts:
            timeout = s.number_field(frame, st, st.timeout, None, "TimeoutSeconds", states, None, ctx, True)
            heartbeat = s.number_field(frame, st, st.heartbeat, None, "HeartbeatSeconds", states, None, ctx, True)
    else:
        data = frame.input if st.input_path is None and not st.discard_input else s.effective_input(frame, st, ctx, variables)
        task_input = st.parameters.render(data, ctx, variables) if st.parameters is not None else data
        if st.dynamic_timeouts:
            timeout = s.number_field(frame, st, st.timeout, st.timeout_path, "TimeoutSeconds", None, data, ctx, True)
            heartbeat = s.number_field(frame, st, st.heartbeat, st.heartbeat_path, "HeartbeatSeconds", None, data, ctx, True)
    return start_task(s, frame, st, task_input, timeout, heartbeat, token)


def start_task(s: Stepper, frame: Frame, st: State, task_input: Any, timeout: int | None, heartbeat: int | None,
               token: str | None) -> int:
    """Check the task's input size, schedule the task and its timers, record it."""
    bound = frame.size if task_input is frame.input else -1
    if bound < 0 or bound > s.m.max_payload_bytes:
        s.fit(st, task_input, bound, "input")
    rs = s.rs
    task_id = f"t{rs.next_task}"
    rs.next_task += 1
    rs.tasks[task_id] = frame.fid
    frame.task = task_id
    frame.phase = TASK
    prefix = st.event_prefix
    details: dict[str, Any] = {**st.scheduled_fields, st.scheduled_key: task_input}
    if timeout is not None:
        details["timeoutInSeconds"] = timeout
    if heartbeat is not None:
        details["heartbeatInSeconds"] = heartbeat
    s.emit(frame, prefix + "Scheduled", details)
    s.emit(frame, prefix + "Started", dict(st.resource_fields))
    s.actions.append(new_run_task(task_id, st.resource, task_input, st.name, timeout, heartbeat, token))
    if timeout is not None:
        timer_id = f"timeout-{task_id}"
        rs.timers[timer_id] = ["task-timeout", frame.fid]
        s.actions.append(StartTimer(timer_id, s.now + timedelta(seconds=timeout)))
    if heartbeat is not None:
        s.start_heartbeat(task_id, frame.fid, heartbeat)
    return BLOCK


def _later(now: datetime, seconds: int) -> datetime:
    """`now` plus a Wait's seconds; a wait past the calendar's end waits until its end."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _no_choice() -> AslRuntimeError:
    # AWS's wording for this cause is not in any recording we have; this one says what happened.
    return AslRuntimeError(STATES_NO_CHOICE_MATCHED, "No choice rule matched the input and the Choice state has no Default.")
