"""The in-memory runner: Lambda-shaped functions, resources, virtual clock, history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl import execute
from podium.asl.runner import VirtualClock
from podium.errors import ValidationError

FN_ARN = "arn:aws:lambda:us-east-1:111111111111:function:double"


def _double(event: Any, context: Any) -> Any:
    return {"n": event["n"] * 2, "fn": context.function_name}


def _explode(event: Any, context: Any) -> Any:
    raise ValueError("no good")


def test_plain_function_arn_returns_the_payload() -> None:
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN_ARN, "End": True}}}
    result = execute(doc, {"n": 4}, functions={"double": _double})
    assert (result.status, result.output) == ("SUCCEEDED", {"n": 8, "fn": "double"})
    assert [e["type"] for e in result.events] == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in result.events] == list(range(1, 8))


def test_lambda_invoke_integration_wraps_the_sdk_response() -> None:
    doc = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FN_ARN, "Payload.$": "$"}, "End": True}}}
    result = execute(doc, {"n": 1}, functions={FN_ARN: _double})
    assert result.output["Payload"] == {"n": 2, "fn": "double"}
    assert result.output["StatusCode"] == 200 and result.output["ExecutedVersion"] == "$LATEST"
    assert result.output["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == str(len(json.dumps({"n": 2, "fn": "double"})))


def test_raised_exception_becomes_lambda_runtime_error() -> None:
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN_ARN, "End": True}}}
    result = execute(doc, {}, functions={"double": _explode})
    assert (result.status, result.error) == ("FAILED", "ValueError")
    cause = json.loads(result.cause or "")
    assert cause["errorMessage"] == "no good" and cause["errorType"] == "ValueError"
    assert cause["requestId"] and any("raise ValueError" in line for line in cause["stackTrace"])


def test_missing_function_is_resource_not_found() -> None:
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN_ARN, "End": True}}}
    result = execute(doc, {})
    assert result.error == "Lambda.ResourceNotFoundException"


def test_resources_map_any_other_resource_and_retry_uses_virtual_time() -> None:
    calls: list[int] = []

    def flaky(data: Any) -> Any:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("try again")
        return {"ok": len(calls)}

    doc = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::podium:flaky", "End": True,
        "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 3600, "MaxAttempts": 5}]}}}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = VirtualClock(start)
    result = execute(doc, {}, resources={"arn:aws:states:::podium:flaky": flaky}, clock=clock)
    assert (result.status, result.output) == ("SUCCEEDED", {"ok": 3})
    assert clock.now() - start == timedelta(hours=3)  # 1h + 2h back-off, no real sleeping


def test_unknown_resource_fails_the_task() -> None:
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::nope", "End": True}}}
    result = execute(doc, {})
    assert result.status == "FAILED" and "nope" in (result.cause or "")


def test_yaml_definitions_run() -> None:
    text = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    Result: {a: 1}\n    End: true\n"
    assert execute(text, {}).output == {"a": 1}


def test_wait_does_not_sleep() -> None:
    doc = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86400, "End": True}}}
    result = execute(doc, {"x": 1})
    assert (result.status, result.output) == ("SUCCEEDED", {"x": 1})


def test_broken_definition_raises_validation_error() -> None:
    with pytest.raises(ValidationError):
        execute({"StartAt": "Nope", "States": {"P": {"Type": "Pass", "End": True}}}, {})


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=8,
)
_paths = st.sampled_from(["$", "$.a", "$.b[0]", "$.c.a", "$$.Execution.Input", "$x"])


@st.composite
def _machines(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 4))
    states: dict[str, Any] = {}
    for i in range(n):
        last = i == n - 1
        kind = draw(st.sampled_from(["Pass", "Choice", "Fail", "Map", "Parallel", "Wait"]))
        name = f"S{i}"
        nxt = {"End": True} if last else {"Next": f"S{i + 1}"}
        if kind == "Pass":
            states[name] = {"Type": "Pass", **nxt, "Parameters": {"v.$": draw(_paths)}, "Assign": {"x.$": "$"}}
        elif kind == "Choice":
            states[name] = {"Type": "Choice", "Choices": [
                {"Variable": draw(_paths), "NumericGreaterThan": 0, "Next": f"S{i + 1}" if not last else name}],
                "Default": f"S{i + 1}" if not last else name} if not last else {"Type": "Succeed"}
        elif kind == "Fail":
            states[name] = {"Type": "Fail", "Error": "E"}
        elif kind == "Map":
            states[name] = {"Type": "Map", **nxt, "ItemsPath": draw(_paths), "ItemProcessor": {
                "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}}
        elif kind == "Parallel":
            states[name] = {"Type": "Parallel", **nxt, "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": draw(_paths), "End": True}}}]}
        else:
            states[name] = {"Type": "Wait", **nxt, "SecondsPath": draw(_paths)}
    return {"StartAt": "S0", "States": states, "TimeoutSeconds": 100}


@settings(max_examples=150, deadline=None)
@given(_machines(), _values)
def test_execution_never_raises(doc: dict[str, Any], data: Any) -> None:
    try:
        result = execute(doc, data)
    except ValidationError:
        return  # e.g. a Fail before the end leaves later states unreachable: rejected up front

    assert result.status in ("SUCCEEDED", "FAILED", "TIMED_OUT")
    if result.status == "FAILED" and result.error is not None:
        assert isinstance(result.error, str)


def test_item_batcher_groups_selected_items() -> None:
    doc = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemSelector": {"v.$": "$$.Map.Item.Value"},
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag": "t"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    result = execute(doc, [1, 2, 3])
    assert result.output == [
        {"BatchInput": {"tag": "t"}, "Items": [{"v": 1}, {"v": 2}]},
        {"BatchInput": {"tag": "t"}, "Items": [{"v": 3}]},
    ]


# Behaviour confirmed from LocalStack's AWS-validated snapshots (tests/aws/services/stepfunctions).

_BIG = "a" * (257 * 1024)


@pytest.mark.parametrize(("resource", "catch", "named"), [
    ("arn:aws:states:::lambda:invoke", "States.ALL", "lambda"),
    (FN_ARN, "States.DataLimitExceeded", FN_ARN),
])
def test_oversized_task_result_is_a_catchable_task_failure(resource: str, catch: str, named: str) -> None:
    # error_handling/test_states_errors: TaskFailed/LambdaFunctionFailed with DataLimitExceeded,
    # caught by the state's Catch (States.ALL included).
    doc = {"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": resource,
                   "Parameters": {"FunctionName": "double", "Payload.$": "$"},
                   "Catch": [{"ErrorEquals": [catch], "Next": "Handle"}], "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
        "Handle": {"Type": "Pass", "End": True}}}
    result = execute(doc, {}, functions={"double": lambda event, context: _BIG})
    cause = f"The state/task '{named}' returned a result with a size exceeding the maximum number of bytes service limit."
    assert result.status == "SUCCEEDED"
    assert result.output == {"Error": "States.DataLimitExceeded", "Cause": cause}
    types = [e["type"] for e in result.events]
    assert not any(t.endswith("Succeeded") and t != "ExecutionSucceeded" for t in types)
    assert ("TaskFailed" if resource.endswith(":invoke") else "LambdaFunctionFailed") in types


def test_oversized_pass_result_fails_the_execution() -> None:
    doc = {"StartAt": "State_1", "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": _BIG}, "End": True}}}
    result = execute(doc, {})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")


def test_integral_floats_are_accepted_where_integers_are_expected() -> None:
    doc = {"StartAt": "W", "TimeoutSeconds": 100.0, "States": {
        "W": {"Type": "Wait", "Seconds": 2.0, "Next": "M"},
        "M": {"Type": "Map", "MaxConcurrency": 1.0, "End": True,
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2.0, "IntervalSeconds": 1.0}]}}}
    assert execute(doc, [1, 2]).output == [1, 2]


def test_state_names_repeated_across_branches_are_rejected_before_running() -> None:
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch, branch], "End": True}}}
    with pytest.raises(ValidationError) as info:
        execute(doc, 7)
    assert [d["code"] for d in info.value.details] == ["DUPLICATE_STATE_NAME"]
    distinct = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}},
        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": True}}}]}}}
    assert execute(distinct, 7).output == [7, 7]


def test_loop_left_only_through_catch_runs() -> None:
    doc = {"StartAt": "Loop", "States": {
        "Loop": {"Type": "Task", "Resource": "counter", "Next": "Loop",
                 "Catch": [{"ErrorEquals": ["Stop"], "Next": "Out"}]},
        "Out": {"Type": "Succeed"}}}
    calls: list[Any] = []

    class Stop(Exception):
        pass

    def counter(data: Any) -> Any:
        calls.append(data)
        if len(calls) == 3:
            raise Stop("enough")
        return len(calls)

    result = execute(doc, 0, resources={"counter": counter})
    assert result.status == "SUCCEEDED"
    assert result.output == {"Error": "Stop", "Cause": "enough"}


def test_wait_past_the_calendar_end_does_not_crash() -> None:
    doc = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    assert execute(doc, {"s": 10**12}).status == "SUCCEEDED"


def test_comments_everywhere_are_accepted() -> None:
    # comments/test_comments (comments_as_per_docs): Comment on states, rules, retriers, catchers.
    doc = {
        "Comment": "machine",
        "StartAt": "Setup",
        "States": {
            "Setup": {"Type": "Pass", "Comment": "c", "Result": {"status": "incomplete"}, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": FN_ARN, "Comment": "c", "Next": "IsComplete",
                     "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Failed", "Comment": "c"}],
                     "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "BackoffRate": 1.0, "Comment": "c"}]},
            "IsComplete": {"Type": "Choice", "Comment": "c", "Default": "Fix",
                           "Choices": [{"And": [{"Variable": "$.status", "StringEquals": "complete", "Comment": "c"}],
                                        "Comment": "c", "Next": "Done"}]},
            "Fix": {"Type": "Pass", "Comment": "c", "Result": {"status": "complete"}, "Next": "Work"},
            "Done": {"Type": "Succeed", "Comment": "c"},
            "Failed": {"Type": "Fail", "Error": "TaskFailed", "Comment": "c"},
        },
    }
    result = execute(doc, {}, functions={"double": lambda event, context: event})
    assert (result.status, result.output) == ("SUCCEEDED", {"status": "complete"})


def test_each_execution_gets_its_own_random_seed_unless_given_one() -> None:
    doc = {"StartAt": "U", "States": {"U": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()"}, "End": True}}}
    assert execute(doc).output != execute(doc).output
    assert execute(doc, seed=3).output == execute(doc, seed=3).output
