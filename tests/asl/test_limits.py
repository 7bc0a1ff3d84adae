"""The 256 KiB payload limit: size bounds, and States.DataLimitExceeded on state input/output."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from podium.asl import compile_definition, execute
from podium.asl.definition import StateMachine
from podium.asl.errors import AslRuntimeError
from podium.asl.jsonpath import compile_reference_path
from podium.asl.limits import MAX_PAYLOAD_BYTES, exact_size, merged_bound, size_bound
from podium.asl.runstate import Frame

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)


def _utf8_json_len(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def test_exact_size_counts_utf8_bytes_of_compact_json() -> None:
    assert exact_size({"a": "é"}) == 10          # {"a":"é"}: 9 characters, é is 2 bytes
    assert exact_size([1, True, None]) == 13     # [1,true,null]
    assert exact_size("a\nb") == 6               # "a\nb": the newline is escaped as two bytes


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_size_bound_never_underestimates(value: Any) -> None:
    assert size_bound(value) >= _utf8_json_len(value)


def test_size_bound_of_large_values_is_exact() -> None:
    many = {f"k{i}": "\u00e9\n" * i for i in range(100)}
    assert size_bound(many) == _utf8_json_len(many)
    assert size_bound("\x00" * 5000) == _utf8_json_len("\x00" * 5000)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=4), json_values,
       st.lists(st.sampled_from(["a", "b", "é", "x y"]), min_size=1, max_size=3))
def test_merged_bound_covers_a_result_written_at_a_result_path(data: Any, result: Any, keys: list[str]) -> None:
    text = "$" + "".join(f"['{k}']" for k in keys)
    try:
        merged = compile_reference_path(text).assign(data, result)
    except AslRuntimeError:  # the path runs into a non-object: ResultPathMatchFailure
        assume(False)
    assert merged_bound(_utf8_json_len(data), _utf8_json_len(result), text) >= _utf8_json_len(merged)


def _small_limit(doc: dict[str, Any], limit: int = 1000) -> StateMachine:
    return dataclasses.replace(compile_definition(doc), max_payload_bytes=limit)


def test_an_oversized_state_output_fails_the_execution() -> None:
    # Each copy of the input fits; the Parameters result holding two of them does not.
    doc = {"StartAt": "Twice", "States": {"Twice": {
        "Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}}}
    result = execute(doc, {"s": "x" * 150_000})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'Twice'" in result.cause
    fits = execute(doc, {"s": "x" * 100_000})
    assert fits.status == "SUCCEEDED"
    assert len(fits.output["a"]) == 100_000


def test_a_result_written_into_a_large_input_fails_terminally_despite_catch() -> None:
    # The task's result fits and its input fits; merged by ResultPath they do not. AWS calls
    # States.DataLimitExceeded terminal: a Catch on States.ALL does not handle it.
    calls: list[Any] = []

    def big(event: Any) -> str:
        calls.append(event)
        return "y" * 150_000

    doc = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "big", "ResultPath": "$.r", "Next": "Done",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]},
        "Done": {"Type": "Succeed"},
        "Handled": {"Type": "Succeed"},
    }}
    result = execute(doc, {"s": "x" * 150_000}, resources={"big": big})
    assert len(calls) == 1
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "Handled" not in [e.get("details", {}).get("name") for e in result.events]


def test_an_oversized_task_input_is_never_sent() -> None:
    calls: list[Any] = []
    machine = _small_limit({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "echo", "Parameters": {"a.$": "$.s", "b.$": "$.s", "c.$": "$.s"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}], "End": True}}})
    result = execute(machine, {"s": "x" * 400}, resources={"echo": lambda e: calls.append(e) or e})
    assert calls == []
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "input" in result.cause and "'T'" in result.cause


def test_a_map_iteration_over_the_limit_fails_the_whole_execution() -> None:
    machine = _small_limit({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
        "ItemProcessor": {"StartAt": "Grow", "States": {"Grow": {
            "Type": "Pass", "Parameters": {"v.$": "$", "w.$": "$", "x.$": "$"}, "End": True}}},
    }, "Handled": {"Type": "Succeed"}}})
    ok = execute(machine, {"items": ["a" * 10, "b" * 10]})
    assert ok.status == "SUCCEEDED"
    bad = execute(machine, {"items": ["a" * 10, "b" * 400]})
    assert (bad.status, bad.error) == ("FAILED", "States.DataLimitExceeded")


def test_a_jsonata_choice_output_is_checked() -> None:
    machine = _small_limit({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Default": "Done",
              "Output": "{% $states.input.s & $states.input.s & $states.input.s %}",
              "Choices": [{"Condition": "{% false %}", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}})
    assert execute(machine, {"s": "x" * 100}).status == "SUCCEEDED"
    bad = execute(machine, {"s": "x" * 400})
    assert (bad.status, bad.error) == ("FAILED", "States.DataLimitExceeded")


def test_a_long_chain_of_small_states_is_not_a_false_alarm() -> None:
    # Each state writes a small result into its input; the running upper bound passes the
    # limit long before the data does, and must then be replaced by the exact size.
    n = 400
    states = {f"S{i}": {"Type": "Pass", "Parameters": {"step": i, "value.$": "$.counter"},
                        "ResultPath": "$.last", **({"Next": f"S{i + 1}"} if i + 1 < n else {"End": True})}
              for i in range(n)}
    machine = _small_limit({"StartAt": "S0", "States": states}, limit=2000)
    result = execute(machine, {"counter": 7, "pad": "p" * 1500})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["last"] == {"step": n - 1, "value": 7}


def test_the_limit_is_the_aws_quota() -> None:
    assert MAX_PAYLOAD_BYTES == 256 * 1024
    assert compile_definition({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}).max_payload_bytes == 262_144


def test_frames_saved_before_the_size_bound_existed_still_load() -> None:
    frame = Frame(1, None, 0, 0, "A", {"x": 1})
    frame.size = 7
    doc = frame.to_json()
    assert Frame.from_json(doc).size == 7
    del doc["size"]
    assert Frame.from_json(doc).size == -1
