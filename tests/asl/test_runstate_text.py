"""RunState.to_text reuses encoded parts between calls; its text must always be to_json's."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from podium.asl import compile_definition
from podium.asl.definition import StateMachine
from podium.asl.runstate import Frame, RunState
from podium.asl.step import (
    Action,
    Finished,
    RedriveExecution,
    RunTask,
    StartExecution,
    TaskFailed,
    TaskSucceeded,
    step,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _expected(state: RunState) -> str:
    return json.dumps(state.to_json(), separators=(",", ":"))


def test_the_context_text_follows_a_redrive_count_bumped_in_place() -> None:
    state = RunState()
    state.status = "RUNNING"
    state.context = {"Execution": {"Id": "arn:x", "Input": {"items": [1, 2]}, "RedriveCount": 0}}
    state.frames[0] = Frame(0, None, 0, 0, "A", {"n": 1})
    assert state.to_text() == _expected(state)
    state.context["Execution"]["RedriveCount"] += 1  # what a redrive does to a cached run state
    assert '"RedriveCount":1' in state.to_text()
    assert state.to_text() == _expected(state)


def test_the_context_text_follows_status_and_a_new_context() -> None:
    state = RunState()
    state.context = {"Execution": {"Id": "arn:x"}}
    assert state.to_text() == _expected(state)
    state.status = "SUCCEEDED"
    assert state.to_text() == _expected(state)
    state.context = {"Execution": {"Id": "arn:y"}, "StateMachine": {"Name": "m"}}
    assert state.to_text() == _expected(state)


def _map_machine(**extra: Any) -> StateMachine:
    machine: StateMachine = compile_definition({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"n.$": "$$.Map.Item.Value"}, "End": True, **extra,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}},
    }}})
    return machine


def _drive(machine: StateMachine, state: RunState, pending: list[RunTask], fail: set[int], seed: int) -> list[Action]:
    """Answer the tasks in a shuffled order (failing the items in `fail`) until the run ends,
    checking the text after every step, and after a reload; returns the last step's actions."""
    shuffle = random.Random(seed)
    actions: list[Action] = []
    while pending:
        task = pending.pop(shuffle.randrange(len(pending)))
        n = task.input["n"]
        event = TaskFailed(task.task_id, "Bad", str(n)) if n in fail else TaskSucceeded(task.task_id, {"m": n * 2})
        actions = step(machine, state, event, NOW).actions
        pending += [a for a in actions if isinstance(a, RunTask)]
        text = state.to_text()
        assert text == _expected(state)
        assert RunState.from_json(json.loads(text)).to_text() == text
        if any(isinstance(a, Finished) for a in actions):
            break
    return actions


def test_a_large_map_text_is_the_full_encoding_at_every_step() -> None:
    # Longer than a chunk of the work lists, answered out of order, with tolerated failures.
    machine = _map_machine(ToleratedFailurePercentage=50)
    state = RunState()
    result = step(machine, state, StartExecution({"items": list(range(300))}), NOW)
    assert state.to_text() == _expected(state)
    pending = [a for a in result.actions if isinstance(a, RunTask)]
    actions = _drive(machine, state, pending, {n for n in range(300) if n % 7 == 3}, 1)
    [done] = [a for a in actions if isinstance(a, Finished)]
    assert done.status == "SUCCEEDED" and done.output[11] == {"m": 22} and done.output[3]["Error"] == "Bad"


def test_a_redriven_large_map_text_is_the_full_encoding_at_every_step() -> None:
    machine = _map_machine()
    state = RunState()
    result = step(machine, state, StartExecution({"items": list(range(200))}), NOW)
    actions = _drive(machine, state, [a for a in result.actions if isinstance(a, RunTask)], {150}, 2)
    assert [a for a in actions if isinstance(a, Finished)][0].status == "FAILED"
    state = RunState.from_json(json.loads(state.to_text()))
    result = step(machine, state, RedriveExecution(), NOW)
    assert state.to_text() == _expected(state)
    actions = _drive(machine, state, [a for a in result.actions if isinstance(a, RunTask)], set(), 3)
    [done] = [a for a in actions if isinstance(a, Finished)]
    assert done.output == [{"m": n * 2} for n in range(200)]


def test_a_map_that_follows_a_map_in_the_same_step_gets_its_own_text() -> None:
    # The second Map's frame is the first one's, with another input.
    processor = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}}
    machine = compile_definition({"StartAt": "A", "States": {
        "A": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "StartAt": "U", "States": {"U": {"Type": "Task", "Resource": "r", "End": True}}}, "End": True},
    }})
    state = RunState()
    pending = [a for a in step(machine, state, StartExecution({"items": list(range(100))}), NOW).actions
               if isinstance(a, RunTask)]
    while pending:
        task = pending.pop()
        pending += [a for a in step(machine, state, TaskSucceeded(task.task_id, task.input), NOW).actions
                    if isinstance(a, RunTask)]
        assert state.to_text() == _expected(state)


def test_a_frame_text_follows_each_field_a_step_changes() -> None:
    # to_text re-encodes only the fields of a frame (and of the run state) that are other
    # objects, plus the containers changed in place: retry counters, variables, timers, tasks.
    machine = compile_definition({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": {"n": 0}, "Assign": {"total": 0}, "Next": "T"},
        "T": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 30, "HeartbeatSeconds": 10,
              "Assign": {"total.$": "$.n"}, "ResultPath": "$.last",
              "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 0, "MaxAttempts": 3}], "Next": "U"},
        "U": {"Type": "Task", "Resource": "r", "End": True},
    }})
    state = RunState()
    actions = step(machine, state, StartExecution({"x": 1}), NOW).actions
    texts = [state.to_text()]
    outcomes = ["fail", "fail", "ok", "ok"]
    big = 10**6  # an int that is a new object each time (the text must still follow)
    for outcome in outcomes:
        [task] = [a for a in actions if isinstance(a, RunTask)]
        event = TaskFailed(task.task_id, "Again") if outcome == "fail" else TaskSucceeded(task.task_id, {"n": big})
        big += 1
        actions = step(machine, state, event, NOW).actions
        texts.append(state.to_text())
        assert texts[-1] == _expected(state)
        assert RunState.from_json(json.loads(texts[-1])).to_text() == texts[-1]
    assert '"retry_counts":[2]' in texts[2] and '"retry_count":2' in texts[2]
    assert '"vars":{"total":1000002}' in texts[3]
    assert [a.status for a in actions if isinstance(a, Finished)] == ["SUCCEEDED"]


def test_a_frame_that_leaves_a_map_gets_its_fields_encoded() -> None:
    # The frame's text was the Map's (whole, see _WorkText); the Task after it has no field texts to reuse.
    machine = compile_definition({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.r", "Next": "T",
              "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": True}}}},
        "T": {"Type": "Task", "Resource": "r", "End": True},
    }})
    state = RunState()
    pending = [a for a in step(machine, state, StartExecution({"items": [1, 2]}), NOW).actions
               if isinstance(a, RunTask)]
    assert state.to_text() == _expected(state)
    states = []
    while pending:
        task = pending.pop()
        pending += [a for a in step(machine, state, TaskSucceeded(task.task_id, 1), NOW).actions
                    if isinstance(a, RunTask)]
        assert state.to_text() == _expected(state)
        states.append([f.state for f in state.frames.values()])
    assert ["T"] in states and state.status == "SUCCEEDED"


def test_an_input_a_task_changed_in_place_is_encoded_again() -> None:
    # An in-process task is given the frame's input object itself; if it changes it and fails,
    # the retried state's input (the same object) must not keep its old text.
    # (The Pass state makes the input another object than the execution's, kept in the context.)
    machine = compile_definition({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "T"},
        "T": {"Type": "Task", "Resource": "r", "End": True,
              "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 0, "MaxAttempts": 1}]}}})
    state = RunState()
    [task] = [a for a in step(machine, state, StartExecution({"n": 1}), NOW).actions if isinstance(a, RunTask)]
    assert state.to_text() == _expected(state)
    task.input["n"] = 2
    actions = step(machine, state, TaskFailed(task.task_id, "Again"), NOW).actions
    assert any(isinstance(a, RunTask) for a in actions)
    assert '"input":{"n":2}' in state.to_text() and state.to_text() == _expected(state)


def test_the_counters_and_the_ending_follow_the_run() -> None:
    # _rest_text formats int counters itself (anything else goes through json) and reuses the
    # text of the ending fields while they are the same objects.
    machine = compile_definition({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True}}})
    state = RunState()
    [task] = [a for a in step(machine, state, StartExecution({"n": 1}, seed=7), NOW).actions if isinstance(a, RunTask)]
    assert state.to_text() == _expected(state)
    state.seed = True  # not an int: json spells it true
    assert '"seed":true' in state.to_text() and state.to_text() == _expected(state)
    state.seed = 2**70
    assert state.to_text() == _expected(state)
    state.timers["x"] = ["wait", 0]  # changed in place
    assert state.to_text() == _expected(state)
    del state.timers["x"]
    step(machine, state, TaskFailed(task.task_id, "Boom", "why"), NOW)
    assert '"error":"Boom","cause":"why","redrive":{' in state.to_text() and state.to_text() == _expected(state)
