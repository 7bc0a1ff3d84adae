from typing import Any

from podium.asl import execute
from podium.asl.errors import (
    ALL_STATES_ERRORS,
    NOT_CATCHABLE,
    STATES_RUNTIME,
    STATES_TASK_FAILED,
    AslRuntimeError,
)


def test_runtime_error_carries_error_and_cause() -> None:
    exc = AslRuntimeError(STATES_TASK_FAILED, "boom")
    assert exc.error == "States.TaskFailed"
    assert exc.cause == "boom"
    assert str(exc) == "States.TaskFailed: boom"
    assert repr(exc) == "AslRuntimeError('States.TaskFailed', 'boom')"


def test_cause_defaults_to_empty() -> None:
    exc = AslRuntimeError("Custom.Error")
    assert exc.cause == ""
    assert str(exc) == "Custom.Error"


def test_error_name_sets() -> None:
    assert STATES_RUNTIME in NOT_CATCHABLE
    # An oversized task result is caught by States.ALL on AWS (test_states_errors snapshots).
    assert "States.DataLimitExceeded" not in NOT_CATCHABLE
    assert NOT_CATCHABLE <= ALL_STATES_ERRORS
    assert {"States.ALL", "States.QueryEvaluationError", "States.IntrinsicFailure"} <= ALL_STATES_ERRORS
    assert all(name.startswith("States.") for name in ALL_STATES_ERRORS)


# How the built-in failures reach an execution: error name, cause, and who may catch them.
# Causes that no AWS recording confirms are Podium's wording (docs/workflows.md, "Error
# causes"); the tests pin the error names and that the cause names the state and the reason.

_PREFIX = "An error occurred while executing the state '{}' (entered at the event id #{}). "


def _in_parallel(branch_states: dict[str, Any], start: str, catch: list[str]) -> dict[str, Any]:
    return {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": True,
              "Branches": [{"StartAt": start, "States": branch_states}],
              "Catch": [{"ErrorEquals": catch, "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}


def test_no_choice_matched_fails_and_can_be_caught_around_a_branch() -> None:
    choice = {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Next": "S"}]},
              "S": {"Type": "Succeed"}}
    run = execute({"StartAt": "C", "States": choice}, {"a": 2})
    assert (run.status, run.error) == ("FAILED", "States.NoChoiceMatched")
    assert run.cause.startswith(_PREFIX.format("C", 2))
    assert "no Default" in run.cause
    caught = execute(_in_parallel(choice, "C", ["States.NoChoiceMatched"]), {"a": 2})
    assert caught.status == "SUCCEEDED"
    assert caught.output["Error"] == "States.NoChoiceMatched"


def test_choice_on_a_missing_variable_is_a_runtime_error_nothing_catches() -> None:
    choice = {"C": {"Type": "Choice", "Default": "S",
                    "Choices": [{"Variable": "$.missing", "StringEquals": "x", "Next": "S"}]},
              "S": {"Type": "Succeed"}}
    run = execute(_in_parallel(choice, "C", ["States.ALL"]), {"a": 1})
    assert (run.status, run.error) == ("FAILED", "States.Runtime")
    assert "Invalid path '$.missing': The choice state's condition path references an invalid value." in run.cause
    present = execute({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Default": "S", "Choices": [{"Variable": "$.missing", "IsPresent": True, "Next": "X"}]},
        "X": {"Type": "Fail"}, "S": {"Type": "Succeed"}}}, {"a": 1})
    assert present.status == "SUCCEEDED"


def test_result_path_match_failure_is_catchable() -> None:
    doc = {"StartAt": "R", "States": {
        "R": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": True}}}
    run = execute(doc, {"a": "text"})
    assert (run.status, run.error) == ("FAILED", "States.ResultPathMatchFailure")
    assert run.cause.startswith(_PREFIX.format("R", 2))
    assert "$.a.b" in run.cause and '{"a":"text"}' in run.cause
    caught = execute(_in_parallel(doc["States"], "R", ["States.ResultPathMatchFailure"]), {"a": "text"})
    assert caught.status == "SUCCEEDED"


def test_jsonata_library_errors_name_the_expression_field_and_code() -> None:
    doc = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"n": "{% 1 + 'a' %}"}, "End": True}}}
    run = execute(doc, {})
    assert (run.status, run.error) == ("FAILED", "States.QueryEvaluationError")
    assert run.cause.startswith(_PREFIX.format("P", 2) + "The JSONata expression '1 + 'a'' specified for the field 'Output/n' threw an error during evaluation. T2002: ")
