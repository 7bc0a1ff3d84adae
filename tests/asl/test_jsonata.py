import contextlib
import random
from collections import ChainMap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl.errors import AslRuntimeError
from podium.asl.jsonata import (
    UNDEFINED,
    compile_jsonata,
    compile_jsonata_template,
    is_jsonata,
    json_type_name,
    unexpected_type_error,
)
from podium.errors import ValidationError

STATES = {"input": {"a": [1, 2, 3], "n": None, "s": "[1, {\"x\": 2}]", "obj": {"k": "v"}}, "context": {"Execution": {"Id": "e1"}}}


def ev(text: str, variables: dict[str, Any] | None = None) -> Any:
    return compile_jsonata(text).evaluate(STATES, variables)


def test_is_jsonata() -> None:
    assert is_jsonata("{% 1 %}")
    assert not is_jsonata("{% 1")
    assert not is_jsonata(" {% 1 %}")
    assert not is_jsonata(1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $states.input.a[1] %}", 2),
        ("{% $states.input.n %}", None),
        ("{% $sum($states.input.a) %}", 6),
        ("{% $states.context.Execution.Id %}", "e1"),
        ("{% $merge([{'a': 1}, {'b': 2}]) %}", {"a": 1, "b": 2}),
        ("{% [1, 2] %}", [1, 2]),
        ("{% 3.0 %}", 3),
        ("{% $contains('hello$world', /^hello\\$/) %}", True),
        ("{% $partition($states.input.a, 2) %}", [[1, 2], [3]]),
        ("{% $range(0, 10, 3) %}", [0, 3, 6, 9]),
        ("{% $hash('input data', 'SHA-256') %}", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        ("{% $parse($states.input.s) %}", [1, {"x": 2}]),
        ("{% $map($states.input.a, function($v) { $v * 10 }) %}", [10, 20, 30]),
    ],
)
def test_expressions(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_variables_are_bound_including_null_values() -> None:
    variables = ChainMap({"x": 41}, {"nothing": None})
    assert ev("{% $x + 1 %}", variables) == 42  # type: ignore[arg-type]
    assert ev("{% $nothing %}", variables) is None  # type: ignore[arg-type]


def test_random_and_uuid_are_seedable() -> None:
    expr = compile_jsonata("{% [$random(), $uuid()] %}")
    assert expr.evaluate(STATES, rng=random.Random(5)) == expr.evaluate(STATES, rng=random.Random(5))
    value = expr.evaluate(STATES)
    assert 0 <= value[0] < 1


def test_undefined_result_fails_with_aws_wording() -> None:
    with pytest.raises(AslRuntimeError) as info:
        compile_jsonata("{% $doesNotExist %}", "Output").evaluate(STATES, {}, "Output/result")
    assert info.value.error == "States.QueryEvaluationError"
    assert info.value.cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' "
        "returned nothing (undefined)."
    )
    assert compile_jsonata("{% $doesNotExist %}").evaluate_optional(STATES) is UNDEFINED


def test_function_result_is_unsupported() -> None:
    with pytest.raises(AslRuntimeError) as info:
        compile_jsonata("{% $fn := function($x){$x} %}", "Items").evaluate(STATES)
    assert info.value.cause.endswith("specified for the field 'Items' returned an unsupported result type.")


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("{% 1/0 %}", "threw an error during evaluation. D1001: Number out of range"),
        ("{% $error('boom') %}", "threw an error during evaluation: boom"),
        ("{% 'a' + 1 %}", "threw an error during evaluation. T2001: "),
        ("{% $partition(1, 2) %}", "threw an error during evaluation: The first argument of $partition must be an array"),
        ("{% $power(10, 400) %}", "threw an error during evaluation. D1001: Number out of range"),
        ("{% $sum('a') %}", ". T0412: Argument 1 of function sum must be an array of numbers"),
        ("{% $abs('x') %}", ". T0410: Argument 1 of function abs does not match function signature"),
    ],
)
def test_evaluation_errors_are_query_evaluation_errors(text: str, tail: str) -> None:
    with pytest.raises(AslRuntimeError) as info:
        ev(text)
    assert info.value.error == "States.QueryEvaluationError"
    assert tail in info.value.cause


@pytest.mark.parametrize("text", ["{% 1 + %}", "{%  %}", "{% $states.input.[ %}", "{% ( %}"])
def test_bad_syntax_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError):
        compile_jsonata(text, "Output")


def test_template_walks_objects_and_lists() -> None:
    template = compile_jsonata_template(
        {"a": "{% $states.input.a[0] %}", "list": [1, "{% $x %}", "plain"], "k": "{% not closed"}, "Output"
    )
    assert not template.is_static
    assert template.text is None
    assert template.evaluate(STATES, {"x": "X"}) == {"a": 1, "list": [1, "X", "plain"], "k": "{% not closed"}
    with pytest.raises(AslRuntimeError) as info:
        template.evaluate(STATES, {})
    assert "'Output/list[1]'" in info.value.cause
    single = compile_jsonata_template("{% $states.input.obj %}", "Items")
    assert single.text == "$states.input.obj"
    static = compile_jsonata_template({"a": [1]})
    assert static.is_static and static.evaluate(STATES) == {"a": [1]}


def test_unexpected_type_error_text() -> None:
    exc = unexpected_type_error("{'foo': 'bar'}", "Items", "array", {"foo": "bar"})
    assert exc.error == "States.QueryEvaluationError"
    assert exc.cause == (
        "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an "
        "unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
    )
    assert [json_type_name(v) for v in (None, True, 1, 1.5, "s", [], {})] == [
        "null", "boolean", "number", "number", "string", "array", "object"
    ]




_TOKENS = st.sampled_from(
    ["$states", ".input", ".a", "[0]", "1", "'s'", "+", "-", "*", "/", "&", "(", ")", "[", "]", "{", "}",
     ":", ",", "$x", "$sum(", "$partition(", "$range(", "$parse(", "null", "true", " ", "=", "?", "..", "~>"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, min_size=1, max_size=10).map("".join))
def test_compile_and_evaluate_raise_only_podium_errors(text: str) -> None:
    try:
        expression = compile_jsonata("{% " + text + " %}")
    except ValidationError:
        return
    try:
        expression.evaluate(STATES, {"x": [1, "a"]})
    except AslRuntimeError as exc:
        assert exc.error == "States.QueryEvaluationError"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_compile_arbitrary_text_raises_only_validation_error(text: str) -> None:
    with contextlib.suppress(ValidationError):
        compile_jsonata("{%" + text + "%}")


@pytest.mark.parametrize(
    "text",
    [
        "$states.input.a", "$states.input.n", "$states.input.obj", "$states.input.obj.k", "$states.input.none",
        "$states.context.Execution.Id", "$x", "$x.f", "$nothing", "$missing", "$states.input.s.x",
        "$flt", "$deep",
    ],
)
def test_native_path_walk_agrees_with_the_library(text: str) -> None:
    variables = {"x": {"f": [1.0, 2]}, "nothing": None, "flt": 2.0, "deep": {"l": [1.0, {"z": 3.0}]}}
    fast = compile_jsonata("{% " + text + " %}")
    assert fast._fast is not None
    slow = compile_jsonata("{% " + text + " %}")
    slow._fast = None
    assert fast.evaluate_optional(STATES, variables) == slow.evaluate_optional(STATES, variables)
    assert type(fast.evaluate_optional(STATES, variables)) is type(slow.evaluate_optional(STATES, variables))


def test_runaway_recursion_is_bounded() -> None:
    text = "{% ($f := function($x){ $x = 0 ? 0 : 1 + $f($x-1) }; $f(100000)) %}"
    with pytest.raises(AslRuntimeError) as info:
        compile_jsonata(text).evaluate(STATES)
    assert "D1011" in info.value.cause
    assert compile_jsonata(text.replace("100000", "200")).evaluate(STATES) == 200


def test_endless_tail_call_loop_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import podium.asl.jsonata as module

    monkeypatch.setattr(module, "_MAX_STEPS", 20_000)
    with pytest.raises(AslRuntimeError) as info:
        compile_jsonata("{% ($f := function($x){$f($x)}; $f(1)) %}").evaluate(STATES)
    assert "D1012: Evaluation stopped after 20000 steps" in info.value.cause
    # The budget counts steps, not time: a bounded loop under it always finishes.
    assert compile_jsonata("{% $sum([1..2000].($ * 2)) %}").evaluate(STATES) == 4002000


def test_now_and_millis_follow_the_state_entry_time() -> None:
    states = {"input": {}, "context": {"State": {"EnteredTime": "2024-05-01T10:00:00.123Z"}}}
    expr = compile_jsonata("{% [$now(), $millis(), $now('[Y0001]-[M01]')] %}")
    assert expr.evaluate(states) == ["2024-05-01T10:00:00.123Z", 1714557600123, "2024-05"]
    assert isinstance(compile_jsonata("{% $millis() %}").evaluate({"input": {}}), int)
