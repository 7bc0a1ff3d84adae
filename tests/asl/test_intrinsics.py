import contextlib
import random
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl.errors import AslRuntimeError
from podium.asl.intrinsics import compile_intrinsic, is_intrinsic
from podium.errors import ValidationError

INPUT: dict[str, Any] = {
    "s": "input data",
    "n": 5,
    "arr": [1, 2, 2, "a", {"k": 1}, {"k": 1}],
    "obj": {"a": {"a1": 1}, "b": 2},
    "other": {"a": {"a3": 1}, "c": 3},
    "csv": "1,2,,3",
    "b64": "RGF0YSB0byBlbmNvZGU=",
}
CONTEXT = {"StateMachine": {"Name": "first-second-third"}}


def ev(text: str, data: Any = None, variables: dict[str, Any] | None = None) -> Any:
    return compile_intrinsic(text).evaluate(INPUT if data is None else data, CONTEXT, variables or {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('Hello {} and {}', $.s, $.n)", "Hello input data and 5"),
        ("States.Format('{} {} {} {}', null, true, 1.5, $.obj.a)", 'null true 1.5 {"a1":1}'),
        ("States.Format('braces \\{\\} and \\'quote\\' {}', 1)", "braces {} and 'quote' 1"),
        ("States.Format('back\\\\slash')", "back\\slash"),
        ("States.StringToJson('{\"a\": [1, 2]}')", {"a": [1, 2]}),
        ("States.StringToJson('')", None),
        ("States.StringToJson('-0')", 0),
        ("States.JsonToString($.obj)", '{"a":{"a1":1},"b":2}'),
        ("States.Array()", []),
        ("States.Array($.n, 'x', null, States.Array(1))", [5, "x", None, [1]]),
        ("States.ArrayPartition(States.Array(1, 2, 3, 4, 5), 2)", [[1, 2], [3, 4], [5]]),
        ("States.ArrayContains($.arr, 'a')", True),
        ("States.ArrayContains($.arr, $.obj)", False),
        ("States.ArrayContains(States.Array(1, 2), true)", False),
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(0, 10, 3)", [0, 3, 6, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayGetItem($.arr, 3)", "a"),
        ("States.ArrayLength($.arr)", 6),
        ("States.ArrayUnique($.arr)", [1, 2, "a", {"k": 1}]),
        ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode($.b64)", "Data to encode"),
        ("States.Hash($.s, 'SHA-1')", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("States.Hash($.s, 'MD5')", "812f45842bc6d66ee14572ce20db8e86"),
        ("States.JsonMerge($.obj, $.other, false)", {"a": {"a3": 1}, "b": 2, "c": 3}),
        ("States.MathAdd(1.5, 0)", 2),
        ("States.MathAdd(-2.5, 0)", -2),
        ("States.MathAdd(1.49, 1.5)", 3),
        ("States.MathAdd(-9, 3)", -6),
        ("States.StringSplit($.csv, ',')", ["1", "2", "3"]),
        ("States.StringSplit('This.is+a,test', '.+,')", ["This", "is", "a", "test"]),
        ("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 1)", "second"),
    ],
)
def test_functions(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_variables_as_arguments() -> None:
    assert ev("States.Format('{}!', $name)", variables={"name": "hi"}) == "hi!"


def test_math_random_is_in_range_and_seedable() -> None:
    values = {ev("States.MathRandom(1, 10)") for _ in range(50)}
    assert values <= set(range(1, 10))
    assert ev("States.MathRandom(0, 1000, 7)") == ev("States.MathRandom(0, 1000, 7)")
    first = compile_intrinsic("States.MathRandom(0, 1000000)").evaluate({}, rng=random.Random(3))
    again = compile_intrinsic("States.MathRandom(0, 1000000)").evaluate({}, rng=random.Random(3))
    assert first == again


def test_uuid_is_v4_and_seedable() -> None:
    value = ev("States.UUID()")
    assert uuid.UUID(value).version == 4
    a = compile_intrinsic("States.UUID()").evaluate({}, rng=random.Random(1))
    b = compile_intrinsic("States.UUID()").evaluate({}, rng=random.Random(1))
    assert a == b


@pytest.mark.parametrize(
    "text",
    [
        "States.Format('{} {}', 1)",
        "States.ArrayPartition($.arr, 0)",
        "States.ArrayPartition($.s, 2)",
        "States.ArrayGetItem($.arr, 6)",
        "States.ArrayRange(0, 5000, 1)",
        "States.StringToJson('{bad')",
        "States.Base64Decode('***')",
        "States.MathAdd($.s, 1)",
        "States.MathAdd(2147483648, 1)",
        "States.JsonMerge($.obj, $.arr, false)",
        "States.Hash(null, 'MD5')",
        "States.ArrayLength($.obj)",
        "States.MathRandom(5, 5)",
    ],
)
def test_bad_argument_values_raise_intrinsic_failure(text: str) -> None:
    with pytest.raises(AslRuntimeError) as info:
        ev(text)
    assert info.value.error == "States.IntrinsicFailure"
    assert text.split("(")[0] in info.value.cause


def test_missing_path_argument_is_runtime_error() -> None:
    with pytest.raises(AslRuntimeError) as info:
        ev("States.Format('{}', $.missing)")
    assert info.value.error == "States.Runtime"


@pytest.mark.parametrize(
    "text",
    [
        "States.Nope()",
        "States.Format(",
        "States.Format('x'",
        "States.Format('unterminated)",
        "States.UUID(1)",
        "States.ArrayRange(1, 2)",
        "States.JsonMerge($.a, $.b, true)",
        "States.Hash($.a, 'SHA-999')",
        "States.ArrayPartition('not an array', 2)",
        "States.Array(1) trailing",
        "States.Array(@)",
        "States.Array($.)",
        "Format('x')",
        "States.Array(" * 12 + ")" * 12,
    ],
)
def test_bad_syntax_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError):
        compile_intrinsic(text)


def test_nesting_up_to_ten_is_allowed() -> None:
    text = "States.Array(" * 10 + "1" + ")" * 10
    result: Any = compile_intrinsic(text).evaluate({})
    for _ in range(9):
        result = result[0]
    assert result == [1]


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Format('x')")
    assert not is_intrinsic("$.a")
    assert not is_intrinsic("States.Format")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("States.FormatArray(),'$.a 1{}\\-x")), max_size=40))
def test_compile_intrinsic_only_raises_validation_error(text: str) -> None:
    with contextlib.suppress(ValidationError):
        compile_intrinsic(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_compile_intrinsic_arbitrary_text(text: str) -> None:
    with contextlib.suppress(ValidationError):
        compile_intrinsic("States.Format(" + text)
