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
