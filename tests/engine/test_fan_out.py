"""Large fan-outs: the run state's incremental encoding, and claiming past max_in_flight."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from podium.asl import compile_definition
from podium.asl.runstate import RunState
from podium.asl.step import (
    RunTask,
    StartExecution,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
    TimerFired,
    step,
)
from podium.engine import Engine, Worker


def full_text(run_state: RunState) -> str:
    return json.dumps(run_state.to_json(), separators=(",", ":"))


MAP_WITH_RETRIES = {
    "StartAt": "Each",
    "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 6, "Next": "Both",
        "ItemSelector": {"n.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "Work", "States": {
            "Work": {
                "Type": "Task", "Resource": "work", "Next": "Mark",
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught", "ResultPath": "$.error"}],
            },
            "Mark": {"Type": "Pass", "Result": "ok", "ResultPath": "$.mark", "End": True},
            "Caught": {"Type": "Pass", "End": True},
        }},
    },
    "Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "work", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
    ]}},
}


# A distributed Map records no iteration events of its own: its frame changes only inside its
# `work`, in place, as iterations end and start.
DISTRIBUTED = json.loads(json.dumps(MAP_WITH_RETRIES))
DISTRIBUTED["States"]["Each"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


@pytest.mark.parametrize("definition", [MAP_WITH_RETRIES, DISTRIBUTED], ids=["inline", "distributed"])
def test_incremental_run_state_text_is_the_full_encoding_at_every_step(definition: dict) -> None:
    machine = compile_definition(definition)
    run_state = RunState()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pending = [a for a in step(machine, run_state, StartExecution({"items": list(range(20))}), now).actions
               if isinstance(a, RunTask)]
    assert run_state.to_text() == full_text(run_state)
    timers: list[str] = []
    turn = 0
    while pending or timers:
        turn += 1
        if timers:
            result = step(machine, run_state, TimerFired(timers.pop(0)), now)
        else:
            task = pending.pop(0)
            n = task.input.get("n", -1) if isinstance(task.input, dict) else -1
            # Some items fail once (retried after a timer), some fail for good (caught).
            if n % 5 == 1 and turn % 2:
                result = step(machine, run_state, TaskFailed(task.task_id, "Flaky", "again"), now)
            elif n % 7 == 3:
                result = step(machine, run_state, TaskFailed(task.task_id, "Broken", "no"), now)
            else:
                result = step(machine, run_state, TaskSucceeded(task.task_id, {"n": n, "done": True}), now)
        pending += [a for a in result.actions if isinstance(a, RunTask)]
        timers += [a.timer_id for a in result.actions if isinstance(a, StartTimer)]
        text = run_state.to_text()
        assert text == full_text(run_state)
        # What is stored restores to a state that encodes the same.
        assert RunState.from_json(json.loads(text)).to_text() == text
    assert run_state.status == "SUCCEEDED"


def test_a_fan_out_larger_than_max_in_flight_is_claimed_as_capacity_frees(engine: Engine) -> None:
    # The worker polls the store only once in this test (a poll interval of 60 s): the
    # iterations beyond the first four must be claimed as earlier ones finish.
    engine.create_state_machine("fan", {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$", "End": True,
        "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": "echo", "End": True}}},
    }}})
    items = [{"i": i} for i in range(24)]
    arn = engine.start_execution("fan", items).arn
    runner = Worker(engine, poll_interval=60.0, max_in_flight=4)
    try:
        started = time.time()
        while engine.describe_execution(arn).status == "RUNNING":
            assert time.time() - started < 30, "the fan-out stalled until the next poll"
            if not runner.run_once():
                runner._wait_for_work()  # noqa: SLF001 - one iteration at a time, as run() does
    finally:
        runner.close()
    described = engine.describe_execution(arn)
    assert described.status == "SUCCEEDED"
    assert described.output == items
