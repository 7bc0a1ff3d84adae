"""Recipe loading and validation: bad recipes are rejected with the step number and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import ValidationError
from podium.prep import load_recipe, parse_recipe
from podium.prep import steps as S


def test_yaml_and_json_load_to_the_same_immutable_steps(tmp_path: Path) -> None:
    yaml_text = "name: r\nsteps:\n  - op: drop\n    columns: [a]\n  - op: filter\n    expr: b > 1\n"
    (tmp_path / "r.json").write_text('{"name": "r", "steps": [{"op": "drop", "columns": ["a"]}, {"op": "filter", "expr": "b > 1"}]}')
    a = load_recipe(yaml_text)
    b = load_recipe(tmp_path / "r.json")
    assert a == b
    assert isinstance(a.steps[0], S.Drop)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        a.steps[0].columns = ("z",)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([{"op": "drop", "columns": ["a"]}, {"op": "explode"}], "step 2 (explode): unknown op 'explode'"),
        ([{"op": "cast", "columns": {"a": "INT; DROP TABLE x"}}], "step 1 (cast): columns: 'INT; DROP TABLE x'"),
        ([{"op": "fill", "columns": ["a"]}], "step 1 (fill): strategy 'constant' needs a value"),
        ([{"op": "filter", "expr": "a"}, {"op": "dedupe", "keys": ["k"]}], "step 2 (dedupe): dedupe by keys needs order_by"),
        ([{"op": "bin", "column": "x", "method": "edges", "edges": [3, 1]}], "step 1 (bin): edges must be strictly increasing"),
        ([{"op": "datetime", "column": "t", "features": ["hour"], "timezone": "Mars/Base"}], "unknown timezone 'Mars/Base'"),
        ([{"op": "window", "time": "t", "range": "a while", "aggregations": [{"func": "count", "name": "n"}]}], "step 1 (window): range: 'a while' is not an interval"),
        ([{"op": "select", "columns": ["a"], "colums": ["b"]}], "step 1 (select): colums: Extra inputs"),
        ([{"op": "python", "function": "not a ref"}], "is not a 'module:callable' reference"),
        ([{"op": "text", "column": "s", "func": "regex_replace", "pattern": "("}], "pattern is not a regular expression"),
    ],
)
def test_invalid_steps_name_step_number_and_reason(steps: list[dict], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_recipe({"steps": steps})
    assert expected in info.value.message


def test_invalid_text_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not valid YAML/JSON"):
        load_recipe("steps: [\n  - op: drop\n  columns")
    with pytest.raises(ValidationError, match="mapping with 'steps'"):
        parse_recipe("drop a")


def test_round_trip_through_dict() -> None:
    recipe = parse_recipe([{"op": "join", "with": {"path": "z.csv"}, "on": ["k"]}])
    assert parse_recipe(recipe.to_dict()) == recipe
    assert recipe.to_dict()["steps"][0]["with"] == {"path": "z.csv"}
