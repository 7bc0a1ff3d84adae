"""The pure step function driven event by event, as the durable engine drives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podium.asl.branches import INLINE_MAP_CONCURRENCY
from podium.asl.definition import compile_definition
from podium.asl.step import (
    CancelTask,
    Finished,
    RedriveExecution,
    RunState,
    RunTask,
    StartExecution,
    StartTimer,
    StepResult,
    StopExecution,
    TaskFailed,
    TaskHeartbeat,
    TaskSucceeded,
    TimerFired,
    step,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _reload(rs: RunState) -> RunState:
    """What the engine does between steps: persist as JSON text and load it back."""
    return RunState.from_json(json.loads(json.dumps(rs.to_json())))


def _actions(result: StepResult, kind: type) -> list[Any]:
    return [a for a in result.actions if isinstance(a, kind)]


def _task_machine(**task: Any) -> Any:
    return compile_definition({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": "arn:aws:states:::podium:work", "End": True, **task}},
    })


def test_task_round_trip_through_json_between_steps() -> None:
    machine = _task_machine(Parameters={"x.$": "$.value"}, ResultPath="$.out")
    r1 = step(machine, RunState(), StartExecution(input={"value": 7}), T0)
    [run] = _actions(r1, RunTask)
    assert run.input == {"x": 7} and run.resource == "arn:aws:states:::podium:work"
    assert [e.type for e in r1.history] == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted"]
    r2 = step(machine, _reload(r1.run_state), TaskSucceeded(run.task_id, {"ok": True}), T0 + timedelta(seconds=1))
    [done] = _actions(r2, Finished)
    assert done.status == "SUCCEEDED" and done.output == {"value": 7, "out": {"ok": True}}
    ids = [e.id for e in r1.history + r2.history]
    assert ids == list(range(1, len(ids) + 1))


def test_retry_backs_off_with_timers_and_caps_delay() -> None:
    machine = _task_machine(Retry=[{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 10}])
    r = step(machine, RunState(), StartExecution(input={}), T0)
    delays = []
    for _ in range(3):
        [run] = _actions(r, RunTask)
        r = step(machine, _reload(r.run_state), TaskFailed(run.task_id, "Boom", "bad"), T0)
        [timer] = _actions(r, StartTimer)
        delays.append((timer.due - T0).total_seconds())
        r = step(machine, _reload(r.run_state), TimerFired(timer.timer_id), timer.due)
    assert delays == [2.0, 6.0, 10.0]
    [run] = _actions(r, RunTask)
    r = step(machine, r.run_state, TaskFailed(run.task_id, "Boom", "bad"), T0)
    [done] = _actions(r, Finished)
    assert (done.status, done.error, done.cause) == ("FAILED", "Boom", "bad")


def _first_jitter_delay(seed: int) -> float:
    machine = _task_machine(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100, "JitterStrategy": "FULL"}])
    r = step(machine, RunState(), StartExecution(input={}, seed=seed), T0)
    [run] = _actions(r, RunTask)
    r = step(machine, r.run_state, TaskFailed(run.task_id, "Boom"), T0)
    [timer] = _actions(r, StartTimer)
    return (timer.due - T0).total_seconds()


def test_full_jitter_is_deterministic_given_the_seed() -> None:
    assert _first_jitter_delay(1) == _first_jitter_delay(1)
    assert 0 <= _first_jitter_delay(1) <= 100
    assert len({_first_jitter_delay(s) for s in range(5)}) > 1


def test_catch_places_error_output_at_result_path() -> None:
    machine = compile_definition({
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "r", "Next": "Caught",
                     "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": True},
        },
    })
    r = step(machine, RunState(), StartExecution(input={"a": 1}), T0)
    [run] = _actions(r, RunTask)
    r = step(machine, r.run_state, TaskFailed(run.task_id, "Custom", "why"), T0)
    [done] = _actions(r, Finished)
    assert done.output == {"a": 1, "err": {"Error": "Custom", "Cause": "why"}}


def test_task_timeout_is_a_timer_and_task_failed_does_not_match_it() -> None:
    machine = compile_definition({
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 30, "Next": "Done",
                     "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Done"}]},
            "Done": {"Type": "Succeed"},
        },
    })
    r = step(machine, RunState(), StartExecution(input={}), T0)
    [run] = _actions(r, RunTask)
    [timer] = _actions(r, StartTimer)
    assert timer.due == T0 + timedelta(seconds=30) and run.timeout_seconds == 30
    r = step(machine, r.run_state, TimerFired(timer.timer_id), timer.due)
    assert _actions(r, CancelTask) == [CancelTask(run.task_id)]
    [done] = _actions(r, Finished)
    assert (done.status, done.error) == ("FAILED", "States.Timeout")
    # The worker's late answer for the timed-out task is ignored.
    late = step(machine, r.run_state, TaskSucceeded(run.task_id, {}), timer.due)
    assert late.actions == [] and late.history == []


def test_map_max_concurrency_bounds_tasks_in_flight() -> None:
    machine = compile_definition({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "MaxConcurrency": 2, "End": True,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}},
        }},
    })
    r = step(machine, RunState(), StartExecution(input=[10, 20, 30, 40, 50]), T0)
    in_flight = _actions(r, RunTask)
    assert [t.input for t in in_flight] == [10, 20]
    outputs: dict[Any, Any] = {}
    rs = r.run_state
    done: list[Finished] = []
    while in_flight:
        task = in_flight.pop(0)
        r = step(machine, _reload(rs), TaskSucceeded(task.task_id, task.input * 2), T0)
        rs = r.run_state
        new = _actions(r, RunTask)
        assert len(in_flight) + len(new) <= 2
        in_flight += new
        outputs[task.input] = task.input * 2
        done += _actions(r, Finished)
    assert done[0].output == [20, 40, 60, 80, 100]


def _inline_map(**extra: Any) -> Any:
    return compile_definition({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "End": True, **extra,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}},
        }},
    })


@pytest.mark.parametrize("max_concurrency", [0, 100])
def test_an_inline_map_runs_at_most_40_iterations_at_once(max_concurrency: int) -> None:
    # AWS: "In Inline mode, the Map state supports up to 40 concurrent iterations."
    assert INLINE_MAP_CONCURRENCY == 40
    machine = _inline_map(MaxConcurrency=max_concurrency)
    r = step(machine, RunState(), StartExecution(input=list(range(100))), T0)
    in_flight = _actions(r, RunTask)
    assert [t.input for t in in_flight] == list(range(40))
    assert sum(1 for f in r.run_state.frames.values() if f.parent is not None) == 40
    assert [e.type for e in r.history].count("MapIterationStarted") == 40
    rs, done = r.run_state, []
    while in_flight:
        task = in_flight.pop(0)
        r = step(machine, _reload(rs), TaskSucceeded(task.task_id, task.input * 2), T0)
        rs = r.run_state
        in_flight += _actions(r, RunTask)
        assert len(in_flight) <= 40
        done += _actions(r, Finished)
        # An iteration that ended is out of the run state; the next one took its place.
        assert sum(1 for f in rs.frames.values() if f.parent is not None) == len(in_flight)
    assert done[0].output == [i * 2 for i in range(100)]


def test_the_next_inline_iteration_starts_when_one_ends() -> None:
    machine = _inline_map()
    r = step(machine, RunState(), StartExecution(input=list(range(41))), T0)
    first = _actions(r, RunTask)[0]
    r = step(machine, r.run_state, TaskSucceeded(first.task_id, "a"), T0)
    assert [(e.type, e.details.get("index")) for e in r.history] == [
        ("TaskSucceeded", None), ("TaskStateExited", None), ("MapIterationSucceeded", 0),
        ("MapIterationStarted", 40), ("TaskStateEntered", None), ("TaskScheduled", None), ("TaskStarted", None),
    ]
    assert [t.input for t in _actions(r, RunTask)] == [40]


def test_a_distributed_map_is_not_bound_by_the_inline_limit() -> None:
    machine = compile_definition({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}},
    }}})
    r = step(machine, RunState(), StartExecution(input=list(range(50))), T0)
    assert len(_actions(r, RunTask)) == 50


def test_a_run_state_saved_with_every_iteration_started_still_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Run states stored before the inline bound existed hold a frame per item of the Map.
    machine = _inline_map()
    with monkeypatch.context() as patched:
        patched.setattr("podium.asl.branches.INLINE_MAP_CONCURRENCY", 10**6)
        r = step(machine, RunState(), StartExecution(input=list(range(60))), T0)
    tasks = _actions(r, RunTask)
    assert len(tasks) == 60
    rs = r.run_state
    for task in reversed(tasks):
        r = step(machine, _reload(rs), TaskSucceeded(task.task_id, -task.input), T0)
        rs = r.run_state
        assert _actions(r, RunTask) == []
    assert _actions(r, Finished)[0] == Finished("SUCCEEDED", [-i for i in range(60)])


def test_parallel_branch_failure_cancels_the_other_branch() -> None:
    machine = compile_definition({
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "b", "End": True}}},
        ]}},
    })
    r = step(machine, RunState(), StartExecution(input={}), T0)
    a, b = _actions(r, RunTask)
    r = step(machine, r.run_state, TaskFailed(a.task_id, "Nope", "branch a"), T0)
    assert CancelTask(b.task_id) in r.actions
    [done] = _actions(r, Finished)
    assert (done.status, done.error, done.cause) == ("FAILED", "Nope", "branch a")
    assert step(machine, r.run_state, TaskSucceeded(b.task_id, 1), T0).actions == []


def test_stop_aborts_and_cancels_pending_tasks() -> None:
    machine = _task_machine()
    r = step(machine, RunState(), StartExecution(input={}), T0)
    [run] = _actions(r, RunTask)
    r = step(machine, r.run_state, StopExecution("Stopped", "by user"), T0)
    assert r.actions[0] == CancelTask(run.task_id)
    assert r.actions[-1] == Finished("ABORTED", None, "Stopped", "by user")
    assert r.history[-1].type == "ExecutionAborted"


def test_execution_timeout_timer_times_the_run_out() -> None:
    machine = compile_definition({
        "TimeoutSeconds": 5, "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    })
    r = step(machine, RunState(), StartExecution(input={}), T0)
    timers = sorted(_actions(r, StartTimer), key=lambda t: t.due)
    assert [(t.due - T0).total_seconds() for t in timers] == [5.0, 60.0]
    r = step(machine, r.run_state, TimerFired(timers[0].timer_id), timers[0].due)
    assert _actions(r, Finished)[0].status == "TIMED_OUT"


def test_wait_for_task_token_puts_the_token_in_the_context() -> None:
    machine = compile_definition({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                         "Parameters": {"token.$": "$$.Task.Token"}, "End": True}},
    })
    r = step(machine, RunState(), StartExecution(input={}), T0)
    [run] = _actions(r, RunTask)
    assert run.task_token and run.input == {"token": run.task_token}


def test_variables_flow_into_map_iterations_but_not_back_out() -> None:
    machine = compile_definition({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"greeting": "hi"}, "Next": "M"},
            "M": {"Type": "Map", "Next": "After", "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Pass", "Parameters": {"g.$": "$greeting", "v.$": "$"}, "Assign": {"inner": 1}, "End": True}}}},
            "After": {"Type": "Pass", "Parameters": {"outer.$": "$greeting", "all.$": "$"}, "End": True},
        },
    })
    r = step(machine, RunState(), StartExecution(input=[1, 2]), T0)
    [done] = _actions(r, Finished)
    assert done.output == {"outer": "hi", "all": [{"g": "hi", "v": 1}, {"g": "hi", "v": 2}]}
    bad = compile_definition({
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "Next": "After", "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}}}},
            "After": {"Type": "Pass", "Parameters": {"x.$": "$inner"}, "End": True},
        },
    })
    [failed] = _actions(step(bad, RunState(), StartExecution(input=[1]), T0), Finished)
    assert failed.status == "FAILED" and failed.error == "States.Runtime"


def test_states_runtime_is_not_caught_by_states_all() -> None:
    machine = compile_definition({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "r", "InputPath": "$.missing", "Next": "Done",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]},
            "Done": {"Type": "Succeed"},
        },
    })
    r = step(machine, RunState(), StartExecution(input={"a": 1}), T0)
    assert _actions(r, RunTask) == []
    [done] = _actions(r, Finished)
    assert (done.status, done.error) == ("FAILED", "States.Runtime")


def test_state_errors_name_the_state_and_its_entered_event() -> None:
    machine = compile_definition({
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Next": "Q"},
            "Q": {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "End": True},
        },
    })
    [done] = _actions(step(machine, RunState(), StartExecution(input={}), T0), Finished)
    assert done.error == "States.Runtime"
    assert done.cause is not None and done.cause.startswith(
        "An error occurred while executing the state 'Q' (entered at the event id #4). ")


def test_heartbeat_restarts_its_timer_and_a_missed_one_fails_the_task() -> None:
    machine = compile_definition({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "r", "HeartbeatSeconds": 10, "End": True}},
    })
    r = step(machine, RunState(), StartExecution(input={}), T0)
    [run] = _actions(r, RunTask)
    [first] = _actions(r, StartTimer)
    assert run.heartbeat_seconds == 10 and first.due == T0 + timedelta(seconds=10)
    later = T0 + timedelta(seconds=8)
    r = step(machine, _reload(r.run_state), TaskHeartbeat(run.task_id), later)
    [second] = _actions(r, StartTimer)
    assert second.due == later + timedelta(seconds=10) and second.timer_id != first.timer_id
    assert step(machine, r.run_state, TimerFired(first.timer_id), first.due).actions == []
    r = step(machine, r.run_state, TimerFired(second.timer_id), second.due)
    [done] = _actions(r, Finished)
    assert (done.status, done.error) == ("FAILED", "States.HeartbeatTimeout")
    assert CancelTask(run.task_id) in r.actions


def _distributed(**extra: Any) -> Any:
    return compile_definition({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "End": True, **extra,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "C", "States": {
                                  "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Bad"}], "Default": "Ok"},
                                  "Bad": {"Type": "Fail", "Error": "Zero"},
                                  "Ok": {"Type": "Pass", "End": True}}},
        }},
    })


def test_distributed_map_failures_beyond_tolerance_fail_the_map_run() -> None:
    [done] = _actions(step(_distributed(), RunState(), StartExecution(input=[1, 0, 2]), T0), Finished)
    assert (done.status, done.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    tolerant = _distributed(ToleratedFailureCount=1)
    r = step(tolerant, RunState(), StartExecution(input=[1, 0, 2]), T0)
    [done] = _actions(r, Finished)
    assert done.status == "SUCCEEDED" and done.output[0] == 1 and done.output[2] == 2
    # Iterations are child executions: their states are not in the parent's history.
    assert [e.type for e in r.history] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_history_converts_to_the_aws_shape() -> None:
    machine = compile_definition({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    r = step(machine, RunState(), StartExecution(input={"a": 1}), T0)
    entered = r.history[1].to_aws()
    assert entered["type"] == "PassStateEntered" and entered["previousEventId"] == 1
    assert entered["stateEnteredEventDetails"] == {"name": "P", "input": '{"a":1}'}
    assert r.history[-1].to_aws()["executionSucceededEventDetails"] == {"output": '{"a":1}'}


def test_redrive_resumes_at_the_failed_top_level_state() -> None:
    machine = compile_definition({
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Assign": {"seen": 1}, "Result": {"x": 1}, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "r", "Parameters": {"x.$": "$.x", "seen.$": "$seen", "n.$": "$$.Execution.RedriveCount"}, "End": True},
        },
    })
    r = step(machine, RunState(), StartExecution(input={}), T0)
    [run] = _actions(r, RunTask)
    r = step(machine, _reload(r.run_state), TaskFailed(run.task_id, "Boom"), T0)
    assert _actions(r, Finished)[0].status == "FAILED"
    r = step(machine, _reload(r.run_state), RedriveExecution(), T0 + timedelta(hours=1))
    assert r.history[0].type == "ExecutionRedriven"
    [again] = _actions(r, RunTask)
    assert again.input == {"x": 1, "seen": 1, "n": 1} and again.task_id != run.task_id
    r = step(machine, r.run_state, TaskSucceeded(again.task_id, "ok"), T0 + timedelta(hours=1))
    assert _actions(r, Finished)[0] == Finished("SUCCEEDED", "ok")
    assert step(machine, r.run_state, RedriveExecution(), T0).actions == []


def test_redrive_reruns_only_the_failed_map_iterations() -> None:
    machine = compile_definition({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "End": True,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}}}},
    })
    r = step(machine, RunState(), StartExecution(input=[1, 2, 3]), T0)
    tasks = _actions(r, RunTask)
    assert [t.input for t in tasks] == [1, 2, 3]
    r = step(machine, _reload(r.run_state), TaskSucceeded(tasks[0].task_id, "a"), T0)
    r = step(machine, _reload(r.run_state), TaskFailed(tasks[1].task_id, "Boom"), T0)
    assert _actions(r, Finished)[0].status == "FAILED"
    r = step(machine, _reload(r.run_state), RedriveExecution(), T0)
    again = _actions(r, RunTask)
    # Item 0 succeeded before the failure and keeps its result; 1 failed, 2 was cancelled.
    assert [t.input for t in again] == [2, 3]
    r = step(machine, _reload(r.run_state), TaskSucceeded(again[0].task_id, "b"), T0)
    r = step(machine, _reload(r.run_state), TaskSucceeded(again[1].task_id, "c"), T0)
    assert _actions(r, Finished)[0] == Finished("SUCCEEDED", ["a", "b", "c"])


def test_redrive_of_a_map_larger_than_the_inline_limit_reruns_what_did_not_succeed() -> None:
    machine = _inline_map()
    r = step(machine, RunState(), StartExecution(input=list(range(100))), T0)
    tasks = _actions(r, RunTask)
    for task in tasks[:31]:
        r = step(machine, _reload(r.run_state), TaskSucceeded(task.task_id, task.input), T0)
        tasks += _actions(r, RunTask)
    # 0..30 succeeded and 31..70 are running; 40 run at a time, so 71.. never started.
    assert [t.input for t in tasks[31:]] == list(range(31, 71))
    failing = tasks[50]
    r = step(machine, _reload(r.run_state), TaskFailed(failing.task_id, "Boom"), T0)
    assert _actions(r, Finished)[0].status == "FAILED"
    r = step(machine, _reload(r.run_state), RedriveExecution(), T0)
    again = _actions(r, RunTask)
    assert [t.input for t in again] == list(range(31, 71))
    seen = []
    while again:
        task = again.pop(0)
        seen.append(task.input)
        r = step(machine, _reload(r.run_state), TaskSucceeded(task.task_id, task.input), T0)
        again += _actions(r, RunTask)
    assert seen == list(range(31, 100))
    assert _actions(r, Finished)[0] == Finished("SUCCEEDED", list(range(100)))


def test_redrive_reruns_only_the_failed_parallel_branches() -> None:
    branches = [{"StartAt": name, "States": {name: {"Type": "Task", "Resource": "r", "End": True}}}
                for name in ("T1", "T2")]
    machine = compile_definition({"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "End": True, "Branches": branches}}})
    r = step(machine, RunState(), StartExecution(input="x"), T0)
    first, second = _actions(r, RunTask)
    r = step(machine, _reload(r.run_state), TaskSucceeded(first.task_id, 1), T0)
    r = step(machine, _reload(r.run_state), TaskFailed(second.task_id, "Boom"), T0)
    r = step(machine, _reload(r.run_state), RedriveExecution(), T0)
    [rerun] = _actions(r, RunTask)
    r = step(machine, _reload(r.run_state), TaskSucceeded(rerun.task_id, 2), T0)
    assert _actions(r, Finished)[0] == Finished("SUCCEEDED", [1, 2])


def test_random_functions_replay_exactly_from_the_same_run_state() -> None:
    # A step applied twice to the same persisted run state gives the same outputs, random
    # functions included: they draw from the run's seed, not from the process.
    machine = compile_definition({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Next": "Ids"},
        "Ids": {"Type": "Pass", "Parameters": {"a.$": "States.UUID()", "b.$": "States.UUID()",
                                               "n.$": "States.MathRandom(0, 1000000)"}, "End": True},
    }})
    r = step(machine, RunState(), StartExecution(input={}, seed=7), T0)
    [task] = _actions(r, RunTask)
    saved = r.run_state.to_json()
    first = step(machine, _reload(RunState.from_json(saved)), TaskSucceeded(task.task_id, 1), T0)
    again = step(machine, _reload(RunState.from_json(saved)), TaskSucceeded(task.task_id, 1), T0)
    out = _actions(first, Finished)[0].output
    assert _actions(again, Finished)[0].output == out
    assert out["a"] != out["b"]
    other = step(machine, RunState(), StartExecution(input={}, seed=8), T0)
    other = step(machine, other.run_state, TaskSucceeded(_actions(other, RunTask)[0].task_id, 1), T0)
    assert _actions(other, Finished)[0].output["a"] != out["a"]


def test_the_fast_built_records_are_the_dataclasses() -> None:
    # Stepper.emit, new_run_task and new_step_result bypass the frozen dataclasses' __init__.
    import dataclasses

    from podium.asl.events import HistoryEvent, RunTask, new_run_task, new_step_result
    from podium.asl.step import RunState, StartExecution, StepResult, step

    machine = compile_definition({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}})
    state = RunState()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    result = step(machine, state, StartExecution({"a": 1}), now)
    assert result == StepResult(state, result.actions, result.history)
    first = result.history[0]
    assert first == HistoryEvent(1, 0, "ExecutionStarted", now, first.details)
    assert repr(first) == repr(HistoryEvent(1, 0, "ExecutionStarted", now, first.details))
    task = new_run_task("t0", "r", [1], "T", 5, None, None)
    assert task == RunTask("t0", "r", [1], "T", 5) and repr(task) == repr(RunTask("t0", "r", [1], "T", 5))
    assert hash(new_run_task("t0", "r", 1, "T", None, None, None)) == hash(RunTask("t0", "r", 1, "T"))
    assert new_step_result(state, [], []) == StepResult(state, [], [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.id = 2  # type: ignore[misc]
