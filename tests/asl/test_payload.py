from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.asl.errors import AslRuntimeError
from podium.asl.payload import compile_template
from podium.errors import ValidationError

CTX = {"Execution": {"Id": "arn:exec"}, "Map": {"Item": {"Value": {"v": 1}}}}


def test_static_template_is_returned_as_is() -> None:
    source = {"a": 1, "b": ["$.not.a.path"], "c": {"d": "$.x"}}
    template = compile_template(source)
    assert template.is_static
    assert template.render({"x": 1}) == source


def test_dynamic_keys_paths_context_variables_and_intrinsics() -> None:
    template = compile_template(
        {
            "plain": "$.x",
            "x.$": "$.x",
            "whole.$": "$",
            "id.$": "$$.Execution.Id",
            "item.$": "$$.Map.Item.Value.v",
            "var.$": "$who",
            "greeting.$": "States.Format('hi {}', $who)",
            "nested": {"list": [1, {"deep.$": "$.x"}], "k": "v"},
        }
    )
    assert not template.is_static
    assert template.references_context
    out = template.render({"x": 7}, CTX, {"who": "bob"})
    assert out == {
        "plain": "$.x",
        "x": 7,
        "whole": {"x": 7},
        "id": "arn:exec",
        "item": 1,
        "var": "bob",
        "greeting": "hi bob",
        "nested": {"list": [1, {"deep": 7}], "k": "v"},
    }
    assert list(out) == ["plain", "x", "whole", "id", "item", "var", "greeting", "nested"]


def test_render_does_not_mutate_or_share_output_objects_between_calls() -> None:
    template = compile_template({"a.$": "$.a", "b": 1})
    first = template.render({"a": 1})
    second = template.render({"a": 2})
    assert first == {"a": 1, "b": 1}
    assert second == {"a": 2, "b": 1}


def test_missing_path_uses_aws_wording() -> None:
    template = compile_template({"value.$": "$.no_such_jsonpath"})
    with pytest.raises(AslRuntimeError) as info:
        template.render({"a": 1})
    assert info.value.error == "States.Runtime"
    assert info.value.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' "
        "could not be found in the input '{\"a\":1}'"
    )


def test_missing_context_path_reports_the_state_input() -> None:
    template = compile_template({"value.$": "$$.Execution.Input.nope"})
    with pytest.raises(AslRuntimeError) as info:
        template.render({"a": 1}, CTX)
    assert "'$$.Execution.Input.nope' specified for the field 'value.$'" in info.value.cause
    assert info.value.cause.endswith("'{\"a\":1}'")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ({"a.$": 1}, "Parameters/a.$"),
        ({"a.$": "not a path"}, "Parameters/a.$"),
        ({"n": {"a.$": "$..["}}, "Parameters/n/a.$"),
        ({"a.$": "States.Nope()"}, "Parameters/a.$"),
        ({"a": 1, "a.$": "$.a"}, "appears twice"),
    ],
)
def test_bad_templates_are_validation_errors(source: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_template(source)
    assert fragment in info.value.message


def test_field_name_prefixes_locations() -> None:
    with pytest.raises(ValidationError) as info:
        compile_template({"a.$": 3}, "ResultSelector")
    assert info.value.message.startswith("ResultSelector/a.$")



_KEYS = st.sampled_from(["a", "b.$", "c", "d.$"])
_VALUES = st.sampled_from(["$.a", "$$.Execution.Id", "$v", "States.Array($.a)", "x", "$.", "States.Nope()", 1, None])
_TEMPLATES = st.recursive(
    _VALUES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(_TEMPLATES, st.sampled_from([{"a": 1}, {}, [], None, "s"]))
def test_compile_and_render_raise_only_podium_errors(source: Any, data: Any) -> None:
    try:
        template = compile_template(source)
    except ValidationError:
        return
    try:
        template.render(data, {"Execution": {"Id": "e"}}, {"v": 2})
    except AslRuntimeError as exc:
        assert exc.error in ("States.Runtime", "States.IntrinsicFailure")
