"""Static validation: each rule reports a stable code at the JSON pointer of the offending field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from podium.asl.problems import PROBLEM_CODES, Problem, pointer
from podium.asl.validate import check, validate
from podium.errors import ValidationError


def machine(**states: Any) -> dict[str, Any]:
    first = next(iter(states))
    return {"StartAt": first, "States": states}


def found(doc: Any) -> set[tuple[str, str]]:
    return {(p.code, p.location) for p in validate(doc)}


PASS_END = {"Type": "Pass", "End": True}

VALID = {
    "Comment": "every state type",
    "StartAt": "Start",
    "TimeoutSeconds": 60,
    "States": {
        "Start": {"Type": "Pass", "Parameters": {"x.$": "$.x", "f.$": "States.Format('{}', $.x)"},
                  "ResultPath": "$.p", "Next": "Work"},
        "Work": {
            "Type": "Task", "Resource": "local:echo", "TimeoutSeconds": 10, "HeartbeatSeconds": 5,
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 0, "BackoffRate": 1.5,
                       "MaxDelaySeconds": 3, "JitterStrategy": "FULL"},
                      {"ErrorEquals": ["States.ALL"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": "Check",
        },
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.x", "NumericGreaterThan": 3, "Next": "Later"},
                {"And": [{"Variable": "$.s", "StringMatches": "a*"}, {"Not": {"Variable": "$.b", "IsNull": True}}],
                 "Next": "Fan"},
                {"Variable": "$.t", "TimestampLessThanEqualsPath": "$$.Execution.StartTime", "Next": "Each"},
            ],
            "Default": "Done",
        },
        "Later": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Fan": {"Type": "Parallel", "Branches": [{"StartAt": "B1", "States": {"B1": PASS_END}}], "End": True},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "M1",
                                   "States": {"M1": PASS_END}},
                 "End": True},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "Oops", "CausePath": "$.error.Cause"},
    },
}


def test_a_valid_definition_has_no_problems() -> None:
    assert validate(VALID) == []
    check(VALID)


def test_every_code_reported_is_documented() -> None:
    broken = copy.deepcopy(VALID)
    del broken["States"]["Done"]
    broken["States"]["Work"]["Foo"] = 1
    codes = {p.code for p in validate(broken)}
    assert codes and codes <= set(PROBLEM_CODES)


def test_not_an_object() -> None:
    assert found([]) == {("INVALID_TYPE", "")}


def test_missing_start_at_and_states() -> None:
    assert found({}) == {("MISSING_START_AT", ""), ("MISSING_FIELD", "")}


def test_unknown_start_at() -> None:
    assert ("UNKNOWN_START_AT", "/StartAt") in found({"StartAt": "Nope", "States": {"A": PASS_END}})


def test_empty_states() -> None:
    assert ("INVALID_VALUE", "/States") in found({"StartAt": "A", "States": {}})


def test_unknown_next_target_everywhere() -> None:
    doc = machine(
        A={"Type": "Task", "Resource": "r", "Next": "X1",
           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "X2"}]},
        C={"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "X3"}], "Default": "X4"},
    )
    problems = found(doc)
    assert ("UNKNOWN_NEXT_TARGET", "/States/A/Next") in problems
    assert ("UNKNOWN_NEXT_TARGET", "/States/A/Catch/0/Next") in problems
    assert ("UNKNOWN_NEXT_TARGET", "/States/C/Choices/0/Next") in problems
    assert ("UNKNOWN_NEXT_TARGET", "/States/C/Default") in problems


def test_unreachable_state() -> None:
    doc = machine(A=PASS_END, B=PASS_END)
    assert found(doc) == {("UNREACHABLE_STATE", "/States/B")}


def test_cycle_without_exit_is_accepted() -> None:
    # A loop left only by an error, a Catch or a timeout is legal ASL; AWS checks only that
    # some terminal state exists (MISSING_END_STATE).
    doc = machine(
        Start={"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Loop1"}],
               "Default": "End"},
        Loop1={"Type": "Pass", "Next": "Loop2"},
        Loop2={"Type": "Wait", "Seconds": 1, "Next": "Loop1"},
        End={"Type": "Succeed"},
    )
    assert found(doc) == set()


def test_scope_without_any_terminal_state() -> None:
    doc = machine(
        Loop1={"Type": "Pass", "Next": "Loop2"},
        Loop2={"Type": "Wait", "Seconds": 1, "Next": "Loop1"},
    )
    assert found(doc) == {("MISSING_END_STATE", "/States")}
    branch = {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "X"}}}
    doc = machine(P={"Type": "Parallel", "End": True, "Branches": [branch]})
    assert found(doc) == {("MISSING_END_STATE", "/States/P/Branches/0/States")}


def test_loop_with_an_exit_is_fine() -> None:
    doc = machine(
        Loop={"Type": "Pass", "Next": "Check"},
        Check={"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "End"}],
               "Default": "Loop"},
        End={"Type": "Succeed"},
    )
    assert validate(doc) == []


def test_catch_target_counts_as_a_way_out() -> None:
    doc = machine(
        A={"Type": "Task", "Resource": "r", "Next": "B", "Catch": [{"ErrorEquals": ["X"], "Next": "Out"}]},
        B={"Type": "Pass", "Next": "A"},
        Out={"Type": "Fail"},
    )
    assert validate(doc) == []


def test_next_and_end_together_and_neither() -> None:
    doc = machine(A={"Type": "Pass", "Next": "B", "End": True}, B={"Type": "Pass"})
    problems = found(doc)
    assert ("ILLEGAL_FIELD", "/States/A/End") in problems
    assert ("MISSING_FIELD", "/States/B") in problems


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Task", "Resource": "r", "Result": 1, "End": True}, "Result"),
        ({"Type": "Pass", "Catch": [], "End": True}, "Catch"),
        ({"Type": "Pass", "Retry": [], "End": True}, "Retry"),
        ({"Type": "Succeed", "Next": "A"}, "Next"),
        ({"Type": "Fail", "End": True}, "End"),
        ({"Type": "Fail", "InputPath": "$"}, "InputPath"),
        ({"Type": "Choice", "Choices": [{"Variable": "$", "IsNull": True, "Next": "A"}], "End": True}, "End"),
        ({"Type": "Wait", "Seconds": 1, "ResultPath": "$.x", "End": True}, "ResultPath"),
        ({"Type": "Wait", "Seconds": 1, "Parameters": {}, "End": True}, "Parameters"),
        ({"Type": "Succeed", "Assign": {"a": 1}}, "Assign"),
        ({"Type": "Pass", "ItemsPath": "$", "End": True}, "ItemsPath"),
    ],
)
def test_fields_a_state_type_does_not_allow(state: dict[str, Any], field: str) -> None:
    doc = {"StartAt": "S", "States": {"S": state, "A": PASS_END}}
    assert ("ILLEGAL_FIELD", f"/States/S/{field}") in found(doc)


def test_unknown_fields() -> None:
    doc = {"StartAt": "A", "Extra": 1, "States": {"A": {"Type": "Pass", "End": True, "Nxt": "B"}}}
    assert found(doc) == {("UNKNOWN_FIELD", "/Extra"), ("UNKNOWN_FIELD", "/States/A/Nxt")}


def test_missing_and_bad_type() -> None:
    doc = machine(A={"End": True}, )
    assert ("MISSING_FIELD", "/States/A") in found(doc)
    doc = machine(A={"Type": "Lambda", "End": True})
    assert ("INVALID_VALUE", "/States/A/Type") in found(doc)
    assert ("INVALID_TYPE", "/States/A") in found(machine(A=[1]))


def test_task_fields() -> None:
    doc = machine(
        A={"Type": "Task", "End": True, "TimeoutSeconds": 0, "HeartbeatSeconds": "5"},
        B={"Type": "Task", "Resource": "r", "End": True, "TimeoutSeconds": 5.5, "HeartbeatSeconds": 5.0},
        C={"Type": "Task", "Resource": "r", "End": True, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"},
    )
    problems = found(doc)
    assert ("MISSING_FIELD", "/States/A") in problems
    assert ("INVALID_VALUE", "/States/A/TimeoutSeconds") in problems
    assert ("INVALID_TYPE", "/States/A/HeartbeatSeconds") in problems
    assert ("INVALID_TYPE", "/States/B/TimeoutSeconds") in problems
    # 5.0 is an integer to JSON Schema; HeartbeatSeconds >= TimeoutSeconds is not rejected.
    assert not any(where == "/States/B/HeartbeatSeconds" for _, where in problems)
    assert ("ILLEGAL_FIELD", "/States/C/TimeoutSecondsPath") in problems


def test_wait_needs_exactly_one_duration() -> None:
    doc = machine(
        A={"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "B"},
        B={"Type": "Wait", "Next": "C"},
        C={"Type": "Wait", "Seconds": -1, "Next": "D"},
        D={"Type": "Wait", "Timestamp": "yesterday", "End": True},
    )
    problems = found(doc)
    assert ("ILLEGAL_FIELD", "/States/A/SecondsPath") in problems
    assert ("MISSING_FIELD", "/States/B") in problems
    assert ("INVALID_VALUE", "/States/C/Seconds") in problems
    assert ("INVALID_VALUE", "/States/D/Timestamp") in problems


def test_fail_error_and_error_path_are_exclusive() -> None:
    doc = machine(A={"Type": "Fail", "Error": "E", "ErrorPath": "$.e", "Cause": 3, "CausePath": "States.Nope(1)"})
    problems = found(doc)
    assert ("ILLEGAL_FIELD", "/States/A/ErrorPath") in problems
    assert ("ILLEGAL_FIELD", "/States/A/CausePath") in problems
    assert ("INVALID_TYPE", "/States/A/Cause") in problems
    assert ("INVALID_INTRINSIC", "/States/A/CausePath") in problems


def test_retry_values_and_ranges() -> None:
    retry = [
        {"ErrorEquals": [], "MaxAttempts": -1, "BackoffRate": 0.5, "IntervalSeconds": -1,
         "JitterStrategy": "SOME", "MaxDelaySeconds": 0, "Bogus": 1},
        {"IntervalSeconds": 1},
    ]
    doc = machine(A={"Type": "Task", "Resource": "r", "End": True, "Retry": retry})
    problems = found(doc)
    base = "/States/A/Retry"
    for code, where in [
        ("INVALID_VALUE", f"{base}/0/ErrorEquals"),
        ("INVALID_VALUE", f"{base}/0/MaxAttempts"),
        ("INVALID_VALUE", f"{base}/0/BackoffRate"),
        ("INVALID_VALUE", f"{base}/0/IntervalSeconds"),
        ("INVALID_VALUE", f"{base}/0/JitterStrategy"),
        ("INVALID_VALUE", f"{base}/0/MaxDelaySeconds"),
        ("UNKNOWN_FIELD", f"{base}/0/Bogus"),
        ("MISSING_FIELD", f"{base}/1"),
    ]:
        assert (code, where) in problems


def test_states_all_rules() -> None:
    doc = machine(
        A={"Type": "Task", "Resource": "r", "End": True,
           "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
           "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "B"}]},
        B=PASS_END,
    )
    problems = found(doc)
    assert ("STATES_ALL_NOT_LAST", "/States/A/Retry/0") in problems
    assert ("STATES_ALL_NOT_ALONE", "/States/A/Catch/0/ErrorEquals") in problems


def test_catcher_needs_next_and_error_equals() -> None:
    doc = machine(A={"Type": "Parallel", "End": True, "Branches": [{"StartAt": "P", "States": {"P": PASS_END}}],
                     "Catch": [{"ResultPath": "$[*]"}]})
    problems = found(doc)
    assert ("MISSING_FIELD", "/States/A/Catch/0") in problems
    assert ("INVALID_REFERENCE_PATH", "/States/A/Catch/0/ResultPath") in problems


def test_choice_rules() -> None:
    doc = machine(C={
        "Type": "Choice",
        "Default": "D",
        "Choices": [
            {"Variable": "$.a", "Next": "D"},
            {"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "D"},
            {"StringEquals": "x", "Next": "D"},
            {"Variable": "$.a", "NumericEquals": "1", "Next": "D"},
            {"And": [], "Next": "D"},
            {"Or": [{"Variable": "$.a", "IsNull": True, "Next": "D"}], "Next": "D"},
            {"Variable": "$..[", "IsNull": True, "Next": "D"},
            {"Variable": "$.a", "BooleanEquals": True},
            {"Variable": "$.t", "TimestampEquals": "not a time", "Next": "D"},
            {"Not": [], "Next": "D"},
        ],
    }, D=PASS_END)
    problems = found(doc)
    base = "/States/C/Choices"
    for code, where in [
        ("INVALID_CHOICE_RULE", f"{base}/0"),
        ("INVALID_CHOICE_RULE", f"{base}/1"),
        ("MISSING_FIELD", f"{base}/2"),
        ("INVALID_TYPE", f"{base}/3/NumericEquals"),
        ("INVALID_VALUE", f"{base}/4/And"),
        ("ILLEGAL_FIELD", f"{base}/5/Or/0/Next"),
        ("INVALID_JSONPATH", f"{base}/6/Variable"),
        ("MISSING_FIELD", f"{base}/7"),
        ("INVALID_VALUE", f"{base}/8/TimestampEquals"),
        ("INVALID_TYPE", f"{base}/9/Not"),
    ]:
        assert (code, where) in problems, (code, where)


def test_choices_required() -> None:
    assert ("MISSING_FIELD", "/States/C") in found(machine(C={"Type": "Choice"}))
    assert ("INVALID_VALUE", "/States/C/Choices") in found(machine(C={"Type": "Choice", "Choices": []}))


def test_jsonpath_problems_in_templates_and_paths() -> None:
    doc = machine(A={
        "Type": "Pass",
        "InputPath": "not a path",
        "Parameters": {"nested": {"bad.$": "$..[", "intr.$": "States.Format(", "num.$": 3}, "ok.$": "$.x"},
        "ResultPath": "$.items[*]",
        "OutputPath": 5,
        "End": True,
    })
    problems = found(doc)
    assert ("INVALID_JSONPATH", "/States/A/InputPath") in problems
    assert ("INVALID_JSONPATH", "/States/A/Parameters/nested/bad.$") in problems
    assert ("INVALID_INTRINSIC", "/States/A/Parameters/nested/intr.$") in problems
    assert ("INVALID_TYPE", "/States/A/Parameters/nested/num.$") in problems
    assert ("INVALID_REFERENCE_PATH", "/States/A/ResultPath") in problems
    assert ("INVALID_TYPE", "/States/A/OutputPath") in problems
    assert not any(loc.endswith("ok.$") for _, loc in problems)


def test_result_path_cannot_write_into_the_context_or_a_variable() -> None:
    assert ("INVALID_REFERENCE_PATH", "/States/A/ResultPath") in found(
        machine(A={"Type": "Pass", "ResultPath": "$$.Execution", "End": True}))


def test_intrinsic_argument_count() -> None:
    doc = machine(A={"Type": "Pass", "Parameters": {"x.$": "States.ArrayLength($.a, $.b)"}, "End": True})
    assert ("INVALID_INTRINSIC", "/States/A/Parameters/x.$") in found(doc)


def test_null_paths_are_allowed() -> None:
    doc = machine(A={"Type": "Pass", "InputPath": None, "OutputPath": None, "ResultPath": None, "End": True})
    assert validate(doc) == []


def test_query_language_mismatch() -> None:
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Parameters": {"a": 1}, "ResultPath": "$.x", "Next": "B"},
            "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "D"}]},
            "D": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "I", "States": {"I": PASS_END}},
                  "End": True},
        },
    }
    problems = found(doc)
    for where in ["/States/A/Parameters", "/States/A/ResultPath", "/States/B/QueryLanguage",
                  "/States/C/Choices/0/Variable", "/States/D/ItemsPath"]:
        assert ("QUERY_LANGUAGE_MISMATCH", where) in problems, where
    assert ("MISSING_FIELD", "/States/C/Choices/0") in problems  # no Condition


def test_jsonata_fields_in_a_jsonpath_state() -> None:
    doc = machine(
        A={"Type": "Task", "Resource": "r", "Arguments": {"a": 1}, "Output": "{% 1 %}", "Next": "C"},
        C={"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "M"}]},
        M={"Type": "Map", "Items": [1], "ItemProcessor": {"StartAt": "I", "States": {"I": PASS_END}}, "End": True},
    )
    problems = found(doc)
    for where in ["/States/A/Arguments", "/States/A/Output", "/States/C/Choices/0/Condition", "/States/M/Items"]:
        assert ("QUERY_LANGUAGE_MISMATCH", where) in problems, where


def test_jsonpath_state_can_switch_to_jsonata() -> None:
    doc = machine(
        A={"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"x": "{% $states.input.a + 1 %}"},
           "Assign": {"v": "{% $states.input %}"}, "Next": "B"},
        B={"Type": "Pass", "Parameters": {"y.$": "$v"}, "End": True},
    )
    assert validate(doc) == []


def test_invalid_jsonata() -> None:
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "r", "Arguments": {"deep": ["{% 1 + %}"]},
                  "TimeoutSeconds": "ten", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "$states.input", "Next": "W"}], "Default": "W"},
            "W": {"Type": "Wait", "Seconds": "{% ( %}", "End": True},
        },
    }
    problems = found(doc)
    assert ("INVALID_JSONATA", "/States/A/Arguments/deep/0") in problems
    assert ("INVALID_TYPE", "/States/A/TimeoutSeconds") in problems
    assert ("INVALID_TYPE", "/States/C/Choices/0/Condition") in problems
    assert ("INVALID_JSONATA", "/States/W/Seconds") in problems


def test_assign_variable_names() -> None:
    doc = machine(A={"Type": "Pass", "Assign": {"ok": 1, "ok2.$": "$.x", "1bad": 2, "bad-name": 3}, "End": True})
    assert found(doc) == {
        ("INVALID_VARIABLE_NAME", "/States/A/Assign/1bad"),
        ("INVALID_VARIABLE_NAME", "/States/A/Assign/bad-name"),
    }


def test_parallel_branches_are_validated_recursively() -> None:
    doc = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "B1", "States": {"B1": PASS_END}},
        {"StartAt": "X", "States": {"B2": {"Type": "Pass", "Next": "Nowhere"}}},
    ]})
    problems = found(doc)
    assert ("UNKNOWN_START_AT", "/States/P/Branches/1/StartAt") in problems
    assert ("UNKNOWN_NEXT_TARGET", "/States/P/Branches/1/States/B2/Next") in problems


def test_parallel_needs_branches() -> None:
    assert ("MISSING_FIELD", "/States/P") in found(machine(P={"Type": "Parallel", "End": True}))
    assert ("INVALID_VALUE", "/States/P/Branches") in found(machine(P={"Type": "Parallel", "End": True, "Branches": []}))


def test_a_branch_cannot_jump_out_of_its_scope() -> None:
    doc = machine(
        P={"Type": "Parallel", "Next": "After", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "After"}}}]},
        After=PASS_END,
    )
    assert ("UNKNOWN_NEXT_TARGET", "/States/P/Branches/0/States/B/Next") in found(doc)


def test_map_processor_and_config() -> None:
    doc = machine(
        M={"Type": "Map", "End": True, "ItemsPath": "$.a[*]", "MaxConcurrency": -1,
           "ToleratedFailurePercentage": 101, "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
           "ItemProcessor": {"ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "I",
                             "States": {"I": {"Type": "Pass", "Result": 1}}}},
    )
    problems = found(doc)
    assert ("INVALID_REFERENCE_PATH", "/States/M/ItemsPath") in problems
    assert ("INVALID_VALUE", "/States/M/MaxConcurrency") in problems
    assert ("INVALID_VALUE", "/States/M/ToleratedFailurePercentage") in problems
    assert ("INVALID_VALUE", "/States/M/ItemProcessor/ProcessorConfig/Mode") in problems
    # ItemReader on an inline Map is not rejected (AWS's rule is undocumented).
    assert not any(where == "/States/M/ItemReader" for _, where in problems)
    assert ("MISSING_FIELD", "/States/M/ItemProcessor/States/I") in problems


def test_map_needs_a_processor_and_not_two() -> None:
    assert ("MISSING_FIELD", "/States/M") in found(machine(M={"Type": "Map", "End": True}))
    proc = {"StartAt": "I", "States": {"I": PASS_END}}
    doc = machine(M={"Type": "Map", "End": True, "ItemProcessor": proc, "Iterator": copy.deepcopy(proc)})
    assert ("ILLEGAL_FIELD", "/States/M/Iterator") in found(doc)


def test_distributed_map_needs_execution_type() -> None:
    doc = machine(M={"Type": "Map", "End": True,
                     "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "I",
                                       "States": {"I": PASS_END}}})
    assert found(doc) == {("MISSING_FIELD", "/States/M/ItemProcessor/ProcessorConfig")}


def test_state_names_are_unique_in_the_whole_machine() -> None:
    # ASL: "state names MUST be unique within the scope of the whole state machine"; AWS
    # rejects a reuse with DUPLICATE_STATE_NAME, in a Map processor or Parallel branch too.
    doc = machine(A={"Type": "Map", "End": True, "Iterator": {"StartAt": "A", "States": {"A": PASS_END}}})
    assert found(doc) == {("DUPLICATE_STATE_NAME", "/States/A/Iterator/States/A")}
    doc = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Same", "States": {"Same": PASS_END}},
        {"StartAt": "Same", "States": {"Same": PASS_END}},
    ]})
    problems = validate(doc)
    assert [(p.code, p.location) for p in problems] == [("DUPLICATE_STATE_NAME", "/States/P/Branches/1/States/Same")]
    assert "/States/P/Branches/0/States/Same" in problems[0].message
    distinct = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "One", "States": {"One": PASS_END}},
        {"StartAt": "Two", "States": {"Two": PASS_END}},
    ]})
    assert found(distinct) == set()


def test_state_name_length() -> None:
    name = "n" * 81
    assert ("INVALID_STATE_NAME", pointer("States", name)) in found({"StartAt": name, "States": {name: PASS_END}})
    ok = "n" * 80
    assert validate({"StartAt": ok, "States": {ok: PASS_END}}) == []


def test_pointers_escape_slash_and_tilde() -> None:
    doc = {"StartAt": "a/b~c", "States": {"a/b~c": {"Type": "Pass", "Next": "x"}}}
    assert ("UNKNOWN_NEXT_TARGET", "/States/a~1b~0c/Next") in found(doc)


def test_every_problem_is_reported_not_only_the_first() -> None:
    doc = machine(
        A={"Type": "Pass", "Next": "Missing1"},
        B={"Type": "Task", "End": True},
        C={"Type": "Wait", "End": True},
    )
    assert len(validate(doc)) >= 5


def test_check_raises_with_all_problems_in_details() -> None:
    doc = machine(A={"Type": "Pass", "Next": "Nope"}, B={"Type": "Bogus"})
    with pytest.raises(ValidationError) as info:
        check(doc)
    assert info.value.code == "InvalidDefinition"
    details = info.value.details
    assert isinstance(details, list) and len(details) == len(validate(doc)) >= 2
    assert {
        k: details[0][k] for k in ("code", "location")
    } == {"code": "UNKNOWN_NEXT_TARGET", "location": "/States/A/Next"}


def test_validate_accepts_text_and_reports_parse_errors() -> None:
    assert validate('{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}') == []
    assert validate("StartAt: A\nStates:\n  A:\n    Type: Succeed\n") == []
    problems = validate('{"StartAt": "A", "States": {')
    assert [p.code for p in problems] == ["PARSE_ERROR"]
    assert "line 1" in problems[0].message


def test_problem_renders_readably() -> None:
    p = Problem("MISSING_FIELD", "/States/A", "needs Next")
    assert str(p) == "MISSING_FIELD at /States/A: needs Next"
    assert p.to_dict() == {"code": "MISSING_FIELD", "location": "/States/A", "message": "needs Next"}


def test_docs_list_every_problem_code() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "workflows.md").read_text(encoding="utf-8")
    assert [code for code in PROBLEM_CODES if f"| `{code}` |" not in docs] == []


def test_deep_nesting_does_not_crash() -> None:
    deep: Any = {"bad.$": 1}
    for _ in range(5000):
        deep = {"a": deep}
    problems = validate({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": deep, "End": True}}})
    # Either the bad value is found at depth or the depth itself is reported; never an exception.
    assert [p.code for p in problems] in (["INVALID_TYPE"], ["INVALID_VALUE"])
