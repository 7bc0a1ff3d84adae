"""Compiling definitions: immutable form, structural errors as ValidationError."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl.definition import compile_definition
from podium.errors import ValidationError


def test_compiles_nested_programs_and_top_level_fields() -> None:
    machine = compile_definition(json.dumps({
        "Comment": "c", "Version": "1.0", "TimeoutSeconds": 10, "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}]}},
    }))
    assert (machine.comment, machine.version, machine.timeout_seconds, machine.query_language) == ("c", "1.0", 10, "JSONata")
    assert len(machine.programs) == 2 and machine.root.states["P"].branches == (1,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        machine.root.states["P"].next = "X"  # type: ignore[misc]


@pytest.mark.parametrize("extra, plain", [
    ({}, True),
    ({"ResultPath": "$", "InputPath": "$", "OutputPath": "$", "TimeoutSeconds": 5, "Retry": [{"ErrorEquals": ["X"]}]}, True),
    ({"InputPath": "$.a"}, False),
    ({"InputPath": None}, False),
    ({"Parameters": {"a": 1}}, False),
    ({"ResultSelector": {"a.$": "$.b"}}, False),
    ({"ResultPath": "$.r"}, False),
    ({"ResultPath": None}, False),
    ({"OutputPath": "$.o"}, False),
    ({"OutputPath": None}, False),
    ({"Assign": {"v": 1}}, False),
    ({"TimeoutSecondsPath": "$.t"}, False),
    ({"HeartbeatSecondsPath": "$.h"}, False),
    ({"Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken"}, False),
    ({"Comment": "$$.Execution.Id"}, False),  # reads no context, but the check is textual
    ({"QueryLanguage": "JSONata"}, False),
])
def test_a_task_without_data_flow_is_plain(extra: dict[str, Any], plain: bool) -> None:
    # A plain Task skips the data flow in the step function (podium.asl.state_types.run_task).
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True, **extra}}}
    if extra.get("QueryLanguage") == "JSONata":
        doc["QueryLanguage"] = "JSONata"
    assert compile_definition(doc).root.states["T"].plain is plain


@pytest.mark.parametrize("doc, where", [
    ({"States": {"P": {"Type": "Pass", "End": True}}}, ""),
    ({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}}}, "/States/P"),
    ({"StartAt": "P", "States": {"P": {"Type": "Bogus", "End": True}}}, "/States/P/Type"),
    ({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$..[", "End": True}}}, "/States/P/InputPath"),
    ({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}}, "/States/P/QueryLanguage"),
    ({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True, "Retry": [{"ErrorEquals": []}]}}}, "/States/T/Retry/0/ErrorEquals"),
    ({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Timestamp": "x", "End": True}}}, "/States/W"),
])
def test_broken_definitions_name_the_location(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_definition(doc)
    # Static validation reports every problem with its JSON location.
    locations = [p["location"] for p in info.value.details] if isinstance(info.value.details, list) else [info.value.message]
    assert any(loc.startswith(where) for loc in locations), locations


def test_text_that_is_neither_json_nor_yaml_is_rejected() -> None:
    with pytest.raises(ValidationError):
        compile_definition("{: [")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["StartAt", "States", "Type", "Next", "End", "A", "Pass", "Choices", "Branches"]), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_compile_only_ever_raises_validation_error(doc: Any) -> None:
    with contextlib.suppress(ValidationError):
        compile_definition(doc if isinstance(doc, dict) else {"StartAt": "A", "States": {"A": doc}})
