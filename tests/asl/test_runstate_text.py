"""RunState.to_text reuses encoded parts between calls; its text must always be to_json's."""

from __future__ import annotations

import json

from podium.asl.runstate import Frame, RunState


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
