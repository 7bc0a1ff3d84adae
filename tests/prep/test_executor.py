"""Preparing recipes against real data: schema errors before running, provenance carry."""

from __future__ import annotations

import pyarrow as pa
import pytest

from podium.errors import ValidationError
from podium.prep import apply_recipe, parse_recipe, prepare
from podium.prep.engine import connect
from podium.prep.executor import source_from


def test_missing_column_is_reported_with_step_number() -> None:
    recipe = parse_recipe([{"op": "rename", "mapping": {"a": "b"}}, {"op": "drop", "columns": ["a"]}])
    with pytest.raises(ValidationError) as info:
        apply_recipe(recipe, pa.table({"a": [1]}))
    assert info.value.message.startswith("step 2 (drop):")
    assert info.value.details == {"step": 2, "op": "drop"}


def test_bad_sql_expression_is_reported_before_running() -> None:
    recipe = parse_recipe([{"op": "filter", "expr": "a >>> 1"}])
    with pytest.raises(ValidationError, match=r"^step 1 \(filter\): "):
        apply_recipe(recipe, pa.table({"a": [1]}))


def test_python_function_that_cannot_be_imported() -> None:
    recipe = parse_recipe([{"op": "python", "function": "no_such_module_x:f"}])
    with pytest.raises(ValidationError, match=r"step 1 \(python\): cannot import"):
        apply_recipe(recipe, pa.table({"a": [1]}))


def test_provenance_columns_survive_select_and_dedupe() -> None:
    con = connect()
    data = pa.table({"a": [1, 1, 2], "b": [5, 5, 6], "_file": ["f", "f", "g"], "_row": [1, 2, 1]})
    src = source_from(con, data)
    recipe = parse_recipe([{"op": "select", "columns": ["a"]}, {"op": "dedupe"}])
    prepared = prepare(recipe, con, src, carry=("_file", "_row"))
    rows = sorted(con.sql(prepared.sql).fetchall())
    assert rows == [(1, "f", 1), (2, "g", 1)]
    assert prepared.steps[0].columns == ("a", "_file", "_row")


def test_sql_after_each_step_and_stats_computed_on_the_input() -> None:
    con = connect()
    src = source_from(con, pa.table({"x": [1.0, None, 5.0]}))
    prepared = prepare(parse_recipe([{"op": "fill", "columns": ["x"], "strategy": "mean"}]), con, src)
    assert "WITH" in prepared.sql and "avg" in prepared.sql
    assert [r[0] for r in con.sql(prepared.sql_after(1)).fetchall()] == [1.0, 3.0, 5.0]
    assert [r[0] for r in con.sql(prepared.sql_after(0)).fetchall()] == [1.0, None, 5.0]
