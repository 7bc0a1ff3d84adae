
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl.choice import compile_choice_rule, is_timestamp
from podium.asl.errors import AslRuntimeError
from podium.asl.timestamps import parse_timestamp
from podium.errors import ValidationError

VALUES: list[Any] = [None, "", " ", "HelloWorld", "2012-10-09T19:00:55Z", [], {}, 0, 0.0, 1, 1.1, True, False]


def rule(op: str, value: Any, variable: str = "$.v") -> dict[str, Any]:
    return {"Variable": variable, op: value, "Next": "N"}


def matches(r: dict[str, Any], data: Any, variables: dict[str, Any] | None = None) -> bool:
    return compile_choice_rule(r, "JSONPath").matches(data, {}, variables or {})


@pytest.mark.parametrize(
    ("op", "value", "matching"),
    [
        ("NumericEquals", 0, [0, 0.0]),
        ("NumericEquals", 1.0, [1]),
        ("NumericLessThan", 1, [0, 0.0]),
        ("NumericGreaterThanEquals", 1, [1, 1.1]),
        ("StringEquals", "HelloWorld", ["HelloWorld"]),
        ("StringLessThan", "A", ["", " ", "2012-10-09T19:00:55Z"]),
        ("StringGreaterThan", "2", ["HelloWorld", "2012-10-09T19:00:55Z"]),
        ("StringGreaterThan", "3", ["HelloWorld"]),
        ("BooleanEquals", True, [True]),
        ("BooleanEquals", False, [False]),
        ("TimestampEquals", "2012-10-09T20:00:55+01:00", ["2012-10-09T19:00:55Z"]),
        ("IsNull", True, [None]),
        ("IsNumeric", True, [0, 0.0, 1, 1.1]),
        ("IsString", True, ["", " ", "HelloWorld", "2012-10-09T19:00:55Z"]),
        ("IsBoolean", True, [True, False]),
        ("IsTimestamp", True, ["2012-10-09T19:00:55Z"]),
        ("IsPresent", True, VALUES),
        ("StringMatches", "Hello*", ["HelloWorld"]),
    ],
)
def test_operators_match_only_their_type(op: str, value: Any, matching: list[Any]) -> None:
    for candidate in VALUES:
        got = matches(rule(op, value), {"v": candidate})
        expected = any(type(candidate) is type(m) and candidate == m for m in matching)
        assert got is expected, (op, value, candidate)


def test_is_operators_with_false_invert() -> None:
    assert matches(rule("IsNull", False), {"v": 1})
    assert not matches(rule("IsNull", False), {"v": None})
    assert not matches(rule("IsPresent", False), {"v": None})
    assert matches(rule("IsPresent", False), {"w": None})


def test_path_forms_compare_two_values() -> None:
    r = {"Variable": "$.v", "NumericEqualsPath": "$.w", "Next": "N"}
    assert matches(r, {"v": 1, "w": 1.0})
    assert not matches(r, {"v": True, "w": 1})
    r = {"Variable": "$.v", "StringLessThanEqualsPath": "$.w", "Next": "N"}
    assert matches(r, {"v": "A", "w": "AB"})
    r = {"Variable": "$.v", "TimestampGreaterThanPath": "$.w", "Next": "N"}
    assert matches(r, {"v": "2012-10-09T19:00:56Z", "w": "2012-10-09T19:00:55Z"})
    r = {"Variable": "$.v", "BooleanEqualsPath": "$w", "Next": "N"}
    assert matches(r, {"v": False}, {"w": False})


def test_string_matches_wildcards_and_escapes() -> None:
    assert matches(rule("StringMatches", "log-*.txt"), {"v": "log-2024.txt"})
    assert matches(rule("StringMatches", "*"), {"v": ""})
    assert not matches(rule("StringMatches", "log-*.txt"), {"v": "log-2024.csv"})
    assert matches(rule("StringMatches", "a\\*b"), {"v": "a*b"})
    assert not matches(rule("StringMatches", "a\\*b"), {"v": "axb"})
    assert matches(rule("StringMatches", "a\\\\b*"), {"v": "a\\bc"})
    assert matches(rule("StringMatches", "a.b"), {"v": "a.b"})
    assert not matches(rule("StringMatches", "a.b"), {"v": "axb"})


def test_and_or_not() -> None:
    r = {
        "And": [
            {"Variable": "$.n", "NumericGreaterThan": 1},
            {"Or": [{"Variable": "$.s", "StringEquals": "x"}, {"Not": {"Variable": "$.b", "BooleanEquals": True}}]},
        ],
        "Next": "N",
    }
    assert matches(r, {"n": 2, "s": "x", "b": True})
    assert matches(r, {"n": 2, "s": "y", "b": False})
    assert not matches(r, {"n": 2, "s": "y", "b": True})
    assert not matches(r, {"n": 1, "s": "x", "b": False})


def test_missing_variable_is_a_runtime_error() -> None:
    with pytest.raises(AslRuntimeError) as info:
        matches(rule("NumericEquals", 1), {"w": 1})
    assert info.value.error == "States.Runtime"
    assert info.value.cause == "Invalid path '$.v': The choice state's condition path references an invalid value."


@pytest.mark.parametrize(
    "text",
    ["2016-08-18T17:33:00Z", "2016-08-18T17:33:00.123456789Z", "2016-08-18T17:33:00+05:30", "2016-02-29T00:00:00-00:00"],
)
def test_valid_timestamps(text: str) -> None:
    assert is_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "2016-08-18T17:33:00",
        "2016-08-18 17:33:00Z",
        "2016-08-18t17:33:00Z",
        "2016-08-18T17:33:00z",
        "2016-13-05T21:29:29Z",
        "2016-12-05T25:29:29Z",
        "2015-02-29T00:00:00Z",
        "2023-02-24",
        "2016-08-18T17:33:00+19:00",
        "",
        5,
    ],
)
def test_invalid_timestamps(text: Any) -> None:
    assert not is_timestamp(text)


def test_timestamp_fractions_compare_by_instant() -> None:
    a = parse_timestamp("2016-08-18T17:33:00.5Z")
    b = parse_timestamp("2016-08-18T17:33:00.499Z")
    assert a is not None and b is not None and a > b


def test_jsonata_condition() -> None:
    r = compile_choice_rule(
        {"Condition": "{% $states.input.n > $limit %}", "Next": "Big", "Assign": {"x": "{% 1 %}"}, "Output": {"o": 1}},
        "JSONata",
    )
    assert r.next == "Big"
    assert r.matches({"n": 5}, {}, {"limit": 3})
    assert not r.matches({"n": 1}, {}, {"limit": 3}, {"input": {"n": 1}, "context": {}})
    assert r.assign is not None and r.output is not None
    assert r.assign.evaluate({"input": {}}, {}) == {"x": 1}  # type: ignore[union-attr]
    with pytest.raises(AslRuntimeError) as info:
        compile_choice_rule({"Condition": "{% 'yes' %}", "Next": "N"}, "JSONata").matches({}, {}, {})
    assert info.value.error == "States.QueryEvaluationError"
    assert "Expected 'boolean', but was 'string'" in info.value.cause


def test_jsonpath_rule_assign_is_a_payload_template() -> None:
    r = compile_choice_rule({"Variable": "$.a", "IsPresent": True, "Next": "N", "Assign": {"v.$": "$.a"}}, "JSONPath")
    assert r.assign is not None
    assert r.assign.render({"a": 3}) == {"v": 3}  # type: ignore[union-attr]
    assert r.output is None


@pytest.mark.parametrize(
    ("source", "ql"),
    [
        ({"Variable": "$.a", "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "StringEquals": 1, "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "NumericEquals": "1", "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "BooleanEquals": 1, "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "IsNull": "yes", "Next": "N"}, "JSONPath"),
        ({"Variable": "a", "IsNull": True, "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "StringEqualsPath": "nope", "Next": "N"}, "JSONPath"),
        ({"StringEquals": "x", "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "StringEquals": "x"}, "JSONPath"),
        ({"And": [], "Next": "N"}, "JSONPath"),
        ({"And": [{"Variable": "$.a", "IsNull": True, "Next": "X"}], "Next": "N"}, "JSONPath"),
        ({"Not": [], "Next": "N"}, "JSONPath"),
        ({"Variable": "$.a", "Foo": 1, "Next": "N"}, "JSONPath"),
        ({"Condition": "{% true %}", "Next": "N"}, "JSONPath"),
        ({"Condition": "true", "Next": "N"}, "JSONata"),
        ({"Condition": "{% 1 + %}", "Next": "N"}, "JSONata"),
        ({"Variable": "$.a", "IsNull": True, "Next": "N"}, "JSONata"),
        ({"Condition": "{% true %}", "Next": "N"}, "YAML"),
    ],
)
def test_bad_rules_are_validation_errors(source: dict[str, Any], ql: str) -> None:
    with pytest.raises(ValidationError):
        compile_choice_rule(source, ql)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=25)
OPERATORS = [
    ("StringEquals", "x"), ("StringLessThan", "m"), ("NumericEquals", 1), ("NumericGreaterThan", 0.5),
    ("BooleanEquals", True), ("TimestampLessThan", "2020-01-01T00:00:00Z"), ("IsTimestamp", True),
    ("IsNumeric", False), ("StringMatches", "*a*"), ("IsPresent", True),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OPERATORS), json_scalars | st.lists(json_scalars, max_size=3))
def test_matches_returns_bool_for_any_value(op: tuple[str, Any], value: Any) -> None:
    assert isinstance(matches(rule(*op), {"v": value}), bool)


_RULE_KEYS = st.sampled_from(["Variable", "StringEquals", "And", "Not", "IsNull", "Next", "NumericEqualsPath", "Condition"])
_RULE_VALUES = st.sampled_from(["$.v", "$.", "x", 1, True, None, "{% true %}"])
_RULES = st.recursive(
    st.dictionaries(_RULE_KEYS, _RULE_VALUES, max_size=4),
    lambda children: st.dictionaries(_RULE_KEYS, children | st.lists(children, max_size=2) | _RULE_VALUES, max_size=4),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(_RULES, st.sampled_from(["JSONPath", "JSONata"]), json_scalars)
def test_compile_and_match_raise_only_podium_errors(source: Any, ql: str, value: Any) -> None:
    try:
        compiled = compile_choice_rule(source, ql)
    except ValidationError:
        return
    try:
        assert isinstance(compiled.matches({"v": value}, {}, {}), bool)
    except AslRuntimeError as exc:
        assert exc.error in ("States.Runtime", "States.QueryEvaluationError")
