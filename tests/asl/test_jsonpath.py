import contextlib
import copy
import json
from collections import ChainMap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl.errors import AslRuntimeError
from podium.asl.jsonpath import compile_path, compile_reference_path, to_json_text
from podium.errors import ValidationError

DOC: dict[str, Any] = {
    "items": [{"key": i, "v": i * 2} for i in range(11)],
    "a": {"b": 1, "n": None},
    "delivery-partner": "ups",
    'Test\\""Name"': "escaped",
    "store": {"book": [{"price": 8, "tag": "x"}, {"price": 12, "tag": "y"}, {"price": 30}]},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$", DOC),
        ("$.a.b", 1),
        ("$.a.n", None),
        ("$['a']['b']", 1),
        ('$["a"].b', 1),
        ("$.delivery-partner", "ups"),
        ("$.items[10]", {"key": 10, "v": 20}),
        ("$.items[-1].v", 20),
        ("$.items[0].key", 0),
        ("$['Test\\\"\"Name\"']", "escaped"),
    ],
)
def test_definite_paths_select_one_value(text: str, expected: Any) -> None:
    assert compile_path(text).select(DOC) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$.items[1:3].key", [1, 2]),
        ("$.items[:2].v", [0, 2]),
        ("$.items[-2:].key", [9, 10]),
        ("$.items[0,2].key", [0, 2]),
        ("$.items[*].key", list(range(11))),
        ("$.a.*", [1, None]),
        ("$.store.book[?(@.price > 10)].price", [12, 30]),
        ("$.store.book[?(@.price >= 8 && @.tag == 'x')].price", [8]),
        ("$.store.book[?(@.tag)].tag", ["x", "y"]),
        ("$.store.book[?(!(@.price < 20))].price", [30]),
        ("$.store.book[?(@.tag in ['y', 'z'])].price", [12]),
        ("$.store.book[?(@.tag =~ /x|y/)].price", [8, 12]),
        ("$..price", [8, 12, 30]),
        ("$.nothing[*]", []),
        ("$.item.items[1:5].itemValue", []),
    ],
)
def test_indefinite_paths_return_lists(text: str, expected: Any) -> None:
    path = compile_path(text)
    assert not path.definite
    assert path.select(DOC) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$.items.length()", 11),
        ("$.a.length()", 2),
        ("$.items[*].v.sum()", 110.0),
        ("$.items[*].key.max()", 10.0),
        ("$.items[*].key.min()", 0.0),
        ("$.items[*].key.avg()", 5.0),
        ("$.items.first()", {"key": 0, "v": 0}),
        ("$.items[*].key.last()", 10),
        ("$.a.keys()", ["b", "n"]),
        ("$.store.book[?(@.price > 10)].length()", 2),
    ],
)
def test_trailing_functions(text: str, expected: Any) -> None:
    path = compile_path(text)
    assert path.definite
    assert path.single_member is None
    assert path.select(DOC) == expected


def test_function_on_missing_or_empty_input_is_a_runtime_error() -> None:
    for text in ("$.nope.length()", "$.nothing[*].sum()"):
        with pytest.raises(AslRuntimeError):
            compile_path(text).select(DOC)


def test_filter_at_matches_objects_only() -> None:
    assert compile_path("$.l[?(@ > 1)]").select({"l": [1, 2, 3, {"x": 1}]}) == []
    assert compile_path("$.l[?(@.x)]").select({"l": [1, {"x": 1}]}) == [{"x": 1}]


def test_context_and_variables() -> None:
    ctx = {"Execution": {"Id": "arn:x", "Input": {"k": 1}}, "Map": {"Item": {"Index": 3}}}
    assert compile_path("$$.Execution.Id").select(DOC, ctx) == "arn:x"
    assert compile_path("$$.Map.Item.Index").select(DOC, ctx) == 3
    assert compile_path("$$").select(DOC, ctx) is ctx
    variables = ChainMap({"x": {"f": [5, 6]}}, {"y": 1})
    assert compile_path("$x.f[1]").select(DOC, None, variables) == 6
    assert compile_path("$y").select(DOC, None, variables) == 1
    assert compile_path("$x").is_variable


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("$.no.such.path", "Invalid path '$.no.such.path' : Missing property in path $['no']"),
        ("$.a.c", "Invalid path '$.a.c' : No results for path: $['a']['c']"),
        ("$.items[20]", "Invalid path '$.items[20]' : No results for path: $['items'][20]"),
    ],
)
def test_missing_definite_path_raises_runtime_error(text: str, cause: str) -> None:
    with pytest.raises(AslRuntimeError) as info:
        compile_path(text).select(DOC)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == cause


def test_missing_path_for_field_uses_parameters_wording() -> None:
    with pytest.raises(AslRuntimeError) as info:
        compile_path("$.no_such_jsonpath").select_for_field("value.$", {"a": 1})
    assert info.value.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' "
        "could not be found in the input '{\"a\":1}'"
    )


def test_missing_variable_raises_runtime_error() -> None:
    with pytest.raises(AslRuntimeError) as info:
        compile_path("$nope.x").select(DOC, None, {})
    assert info.value.error == "States.Runtime"


def test_exists() -> None:
    assert compile_path("$.a.n").exists(DOC)
    assert not compile_path("$.a.zz").exists(DOC)
    assert not compile_path("$.items[*].zz").exists(DOC)
    assert compile_path("$.items[*].key").exists(DOC)


@pytest.mark.parametrize(
    "text",
    ["", "a.b", "$.", "$[", "$.a[", "$..", "$.a b", "$.a[?(@.x >)]", "$.a[1:2:0]", "$.a.nope()", "$.a.length().b", "$['a"],
)
def test_bad_syntax_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_path(text)
    assert "Invalid JSONPath" in info.value.message


def test_reference_path_assign_copies_only_along_the_path() -> None:
    doc = {"a": {"b": 1}, "other": {"deep": [1, 2]}}
    before = copy.deepcopy(doc)
    out = compile_reference_path("$.a.c.d").assign(doc, 5)
    assert out == {"a": {"b": 1, "c": {"d": 5}}, "other": {"deep": [1, 2]}}
    assert doc == before
    assert out["other"] is doc["other"]
    assert compile_reference_path("$").assign(doc, 7) == 7
    with pytest.raises(AslRuntimeError):
        compile_reference_path("$.a").assign(None, 1)


def test_reference_path_assign_into_array_element() -> None:
    doc = {"l": [{"x": 1}, {"x": 2}]}
    out = compile_reference_path("$.l[1].y").assign(doc, 3)
    assert out == {"l": [{"x": 1}, {"x": 2, "y": 3}]}
    assert doc == {"l": [{"x": 1}, {"x": 2}]}


def test_reference_path_mismatch_raises_result_path_failure() -> None:
    with pytest.raises(AslRuntimeError) as info:
        compile_reference_path("$.a.b.x").assign({"a": {"b": 1}}, 2)
    assert info.value.error == "States.ResultPathMatchFailure"
    assert info.value.cause == 'Unable to apply ReferencePath $.a.b.x to input {"a":{"b":1}}'
    with pytest.raises(AslRuntimeError):
        compile_reference_path("$.x").assign("a string", 1)


def test_reference_path_rejects_indefinite_paths() -> None:
    for text in ("$.a[*]", "$..a", "$.a[0:1]", "$.a[?(@.b)]", "$$.Execution", "$var.x", "$.a.length()"):
        with pytest.raises(ValidationError):
            compile_reference_path(text)


def test_to_json_text_is_compact_and_keeps_unicode() -> None:
    assert to_json_text({"a": [1, "é"]}) == '{"a":[1,"é"]}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_compile_path_only_raises_validation_error(text: str) -> None:
    with contextlib.suppress(ValidationError):
        compile_path(text)


path_texts = st.lists(
    st.sampled_from(
        [".a", ".b", "[0]", "[-1]", "[*]", "[1:]", "..a", ".*", "['a']", "[0,1]", "[?(@.a > 0)]", "[?(@.b == 'x')]"]
    ),
    max_size=4,
).map(lambda parts: "$" + "".join(parts)) | st.sampled_from(["", ".length()", ".sum()", ".first()", ".keys()"]).map(
    lambda fn: "$.a" + fn
)


@settings(max_examples=300, deadline=None)
@given(path_texts, json_values)
def test_select_only_raises_runtime_error(text: str, data: Any) -> None:
    path = compile_path(text)
    try:
        result = path.select(data, {}, {})
    except AslRuntimeError as exc:
        assert exc.error == "States.Runtime"
        assert path.definite
    else:
        json.dumps(result)
        if not path.definite:
            assert isinstance(result, list)


@settings(max_examples=200, deadline=None)
@given(json_values, json_values)
def test_assign_never_mutates(doc: Any, value: Any) -> None:
    before = json.dumps(doc, sort_keys=True)
    try:
        out = compile_reference_path("$.a.b").assign(doc, value)
    except AslRuntimeError:
        pass
    else:
        assert compile_path("$.a.b").select(out) == value
    assert json.dumps(doc, sort_keys=True) == before
