"""Contract rules compiled to SQL, checked row by row against DuckDB."""

from __future__ import annotations

import pyarrow as pa
import pytest

from podium.errors import ValidationError
from podium.ingest.batch.contracts import Contract, cast_sql, check_schema, reason_sql
from podium.prep.engine import connect


def _reasons(contract: Contract, table: pa.Table) -> list[str | None]:
    con = connect()
    con.register("t", table)
    cols = tuple(table.column_names)
    expr = reason_sql(contract, cols, ("pos",) if "pos" in cols else ())
    return [r[0] for r in con.execute(f"SELECT {expr} FROM t ORDER BY pos").fetchall()]


def test_each_rule_names_itself() -> None:
    contract = Contract.model_validate(
        {
            "columns": {
                "id": {"type": "INTEGER", "required": True},
                "email": {"pattern": "[^@]+@[^@]+"},
                "score": {"min": 0, "max": 10},
                "kind": {"allowed": ["a", "b"]},
            }
        }
    )
    table = pa.table(
        {
            "pos": [1, 2, 3, 4, 5],
            "id": ["1", "x", None, "4", "5"],
            "email": ["a@b", "a@b", "nope", "a@b", None],
            "score": [5.0, 11.0, -1.0, 0.0, 10.0],
            "kind": ["a", "c", "b", None, "b"],
        }
    )
    assert _reasons(contract, table) == [
        None,
        "id: x is not INTEGER; score: 11.0 is above 10.0; kind: c is not an allowed value",
        "id: missing; email: nope does not match the pattern; score: -1.0 is below 0.0",
        None,
        None,
    ]


def test_compound_unique_keeps_the_first_row() -> None:
    contract = Contract(unique=(("a", "b"),))
    table = pa.table({"pos": [1, 2, 3, 4], "a": [1, 1, 1, 2], "b": ["x", "x", "y", "x"]})
    assert _reasons(contract, table) == [None, "duplicate key (a, b)", None, None]


def test_schema_checks_and_casts() -> None:
    contract = Contract.model_validate({"columns": {"id": {"type": "BIGINT", "required": True}}, "allow_extra_columns": False})
    with pytest.raises(ValidationError, match=r"required column\(s\) \['id'\]"):
        check_schema(contract, ("x",))
    with pytest.raises(ValidationError, match=r"columns \['x'\] are not in the contract"):
        check_schema(contract, ("id", "x", "_podium_row"))
    check_schema(contract, ("id", "_podium_file"))
    assert cast_sql(contract, ("id",)) == '* REPLACE (CAST("id" AS BIGINT) AS "id")'


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(Exception, match="min is greater than max"):
        Contract.model_validate({"columns": {"x": {"min": 5, "max": 1}}})
    with pytest.raises(Exception, match="not a type name"):
        Contract.model_validate({"columns": {"x": {"type": "INT); DROP"}}})
