"""Retry and Catch: what happens when a state fails.

`on_error` tries the state's retriers in order (IntervalSeconds, BackoffRate, MaxAttempts,
MaxDelaySeconds, JitterStrategy FULL with a deterministic seed), then its catchers
(ResultPath, or Output/Assign in JSONata); otherwise the frame fails. States.Runtime is
never retried or caught; States.ALL matches every other error and States.TaskFailed every
error but States.Timeout.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from podium.asl.definition import JSONATA, State
from podium.asl.errors import (
    NOT_CATCHABLE,
    STATES_ALL,
    STATES_TASK_FAILED,
    STATES_TIMEOUT,
    AslRuntimeError,
    TerminalError,
    error_output,
)
from podium.asl.events import StartTimer, failure_details
from podium.asl.runstate import BLOCK, CHILDREN, CONTINUE, DONE, ENTER, EXEC, WAITING, Frame

if TYPE_CHECKING:
    from podium.asl.stepper import Stepper


def on_error(s: Stepper, frame: Frame, st: State, error: str | None, cause: str | None) -> int:
    rs = s.rs
    kept: dict[str, Any] | None = None
    if frame.work is not None:
        work = frame.work
        if frame.parent is None and work.get("kind") in ("map", "parallel") and work.get("done"):
            kept = {"state": frame.state, "done": {str(i): work["results"][i] for i in work["done"]}}
        s.cancel_children(frame)
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
                return CONTINUE
            timer_id = f"retry-{frame.fid}-{rs.next_event_id}"
            rs.timers[timer_id] = ["retry", frame.fid]
            frame.phase = WAITING
            s.actions.append(StartTimer(timer_id, s.now + timedelta(seconds=delay)))
            return BLOCK
        for catcher in st.catch:
            if not _matches(catcher.error_equals, error):
                continue
            return caught(s, frame, st, catcher, error, cause)
    s.failed_work = kept
    emit_state_failed(s, frame, st, error, cause)
    s.frame_failed(frame, error, cause)
    return DONE


def emit_state_failed(s: Stepper, frame: Frame, st: State, error: str | None, cause: str | None) -> None:
    if st.type in ("Map", "Parallel") and frame.phase == CHILDREN:
        s.emit(frame, st.type + "StateFailed", failure_details(error, cause))


def caught(s: Stepper, frame: Frame, st: State, catcher: Any, error: str | None, cause: str | None) -> int:
    err_out = error_output(error, cause)
    variables = s.scope(frame)
    try:
        if st.query_language == JSONATA:
            states = {"input": frame.input, "context": s.context(frame, st), "errorOutput": err_out}
            assigned = catcher.assign.evaluate(states, variables) if catcher.assign is not None else None
            output = catcher.output.evaluate(states, variables) if catcher.has_output else err_out
        else:
            ctx = s.context(frame, st)
            assigned = catcher.assign.render(err_out, ctx, variables) if catcher.assign is not None else None
            if catcher.discard_result:
                output = frame.input
            elif catcher.result_path is not None:
                output = catcher.result_path.assign(frame.input, err_out)
            else:
                output = err_out
        bound = s.fit(st, output, frame.size if output is frame.input else -1, "output")
    except TerminalError as exc:
        s.fail_terminal(exc.error, exc.cause)
        return DONE
    except AslRuntimeError as exc:
        s.frame_failed(frame, exc.error, s.prefixed(frame, exc))
        return DONE
    if assigned:
        frame.vars.update(assigned)
    s.emit(frame, st.type + "StateExited", {"name": st.name, "output": output})
    frame.state = catcher.next
    frame.input = output
    frame.size = bound
    frame.phase = ENTER
    frame.work = None
    return CONTINUE


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
