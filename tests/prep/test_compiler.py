"""Each transform, run through DuckDB, checked on its values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from podium.prep import apply_recipe, parse_recipe


def run(steps: list[dict], data: pa.Table | dict) -> list[dict]:
    table = data if isinstance(data, pa.Table) else pa.table(data)
    return apply_recipe(parse_recipe(steps), table).to_pylist()


def test_select_keeps_listed_columns_in_order() -> None:
    rows = run([{"op": "select", "columns": ["b", "a"]}], {"a": [1], "b": [2], "c": [3]})
    assert rows == [{"b": 2, "a": 1}]


def test_drop_removes_columns() -> None:
    rows = run([{"op": "drop", "columns": ["b"]}], {"a": [1], "b": [2], "c": [3]})
    assert rows == [{"a": 1, "c": 3}]


def test_rename() -> None:
    rows = run([{"op": "rename", "mapping": {"a": "x"}}], {"a": [1], "b": [2]})
    assert rows == [{"x": 1, "b": 2}]


def test_cast_and_safe_cast() -> None:
    rows = run([{"op": "cast", "columns": {"a": "INTEGER"}}], {"a": ["1", "22"]})
    assert [r["a"] for r in rows] == [1, 22]
    rows = run([{"op": "cast", "columns": {"a": "INTEGER"}, "safe": True}], {"a": ["1", "x"]})
    assert [r["a"] for r in rows] == [1, None]


def test_filter_with_sql_expression() -> None:
    rows = run([{"op": "filter", "expr": "a > 1 AND b <> 'no'"}], {"a": [1, 2, 3], "b": ["x", "no", "y"]})
    assert rows == [{"a": 3, "b": "y"}]


def test_dedupe_all_columns_and_by_key_keeping_first_or_last() -> None:
    rows = run([{"op": "dedupe"}], {"a": [1, 1, 2], "b": ["x", "x", "y"]})
    assert sorted((r["a"], r["b"]) for r in rows) == [(1, "x"), (2, "y")]
    data = {"k": ["a", "a", "b"], "t": [1, 2, 5], "v": [10, 20, 50]}
    first = run([{"op": "dedupe", "keys": ["k"], "order_by": ["t"], "keep": "first"}], data)
    assert sorted((r["k"], r["v"]) for r in first) == [("a", 10), ("b", 50)]
    last = run([{"op": "dedupe", "keys": ["k"], "order_by": ["t"], "keep": "last"}], data)
    assert sorted((r["k"], r["v"]) for r in last) == [("a", 20), ("b", 50)]


@pytest.mark.parametrize(
    ("strategy", "value", "expected"),
    [("constant", 0, 0), ("mean", None, 4.0), ("median", None, 1.5), ("mode", None, 1.0)],
)
def test_fill_missing(strategy: str, value: object, expected: float) -> None:
    step = {"op": "fill", "columns": ["x"], "strategy": strategy}
    if value is not None:
        step["value"] = value
    rows = run([step], {"x": [1.0, 1.0, None, 2.0, 12.0], "y": [1, 2, 3, 4, 5]})
    assert rows[2]["x"] == pytest.approx(expected)
    assert [r["x"] for r in rows if r["y"] != 3] == [1.0, 1.0, 2.0, 12.0]
    assert set(rows[0]) == {"x", "y"}


def test_onehot_fitted_and_given_categories() -> None:
    rows = run([{"op": "onehot", "column": "c"}], {"c": ["red", "blue", "red", None]})
    assert [(r["c_red"], r["c_blue"]) for r in rows] == [(1, 0), (0, 1), (1, 0), (0, 0)]
    assert "c" not in rows[0]
    rows = run(
        [{"op": "onehot", "column": "c", "categories": ["blue", "green"], "keep_original": True}],
        {"c": ["red", "blue"]},
    )
    assert rows == [
        {"c": "red", "c_blue": 0, "c_green": 0},
        {"c": "blue", "c_blue": 1, "c_green": 0},
    ]


def test_onehot_keeps_most_frequent_categories() -> None:
    rows = run([{"op": "onehot", "column": "c", "max_categories": 1}], {"c": ["a", "b", "b"]})
    assert [set(r) for r in rows][0] == {"c_b"}


def test_ordinal_with_order_and_fitted() -> None:
    rows = run(
        [{"op": "ordinal", "column": "size", "order": ["S", "M", "L"]}],
        {"size": ["L", "S", "XL", None]},
    )
    assert [r["size"] for r in rows] == [2, 0, -1, None]
    rows = run([{"op": "ordinal", "column": "c", "output": "c_code"}], {"c": ["b", "a", "c"]})
    assert [(r["c"], r["c_code"]) for r in rows] == [("b", 1), ("a", 0), ("c", 2)]


def test_scale_standard_and_minmax() -> None:
    rows = run([{"op": "scale", "columns": ["x"], "method": "minmax"}], {"x": [2, 4, 6, None]})
    assert [r["x"] for r in rows] == [0.0, 0.5, 1.0, None]
    rows = run([{"op": "scale", "columns": ["x", "k"]}], {"x": [1.0, 2.0, 3.0], "k": [5, 5, 5]})
    assert [r["x"] for r in rows] == pytest.approx([-1.0, 0.0, 1.0])
    assert [r["k"] for r in rows] == [0.0, 0.0, 0.0]
    assert set(rows[0]) == {"x", "k"}


def test_bin_width_edges_quantile() -> None:
    data = {"x": [0.0, 2.5, 5.0, 7.5, 10.0, None]}
    rows = run([{"op": "bin", "column": "x", "bins": 4}], data)
    assert [r["x_bin"] for r in rows] == [0, 1, 2, 3, 3, None]
    rows = run([{"op": "bin", "column": "x", "method": "edges", "edges": [0, 5, 10], "output": "b"}], data)
    assert [r["b"] for r in rows] == [0, 0, 1, 1, 1, None]
    rows = run([{"op": "bin", "column": "x", "method": "quantile", "bins": 2}], {"x": [1, 2, 3, 4, 100]})
    assert [r["x_bin"] for r in rows] == [0, 0, 1, 1, 1]


def test_text_functions() -> None:
    data = {"s": ["  Hello World ", "ABC-123"]}
    assert [r["s"] for r in run([{"op": "text", "column": "s", "func": "lower"}], data)] == ["  hello world ", "abc-123"]
    assert [r["s"] for r in run([{"op": "text", "column": "s", "func": "upper"}], data)][1] == "ABC-123"
    assert [r["s"] for r in run([{"op": "text", "column": "s", "func": "trim"}], data)][0] == "Hello World"
    rows = run(
        [{"op": "text", "column": "s", "func": "regex_extract", "pattern": "([0-9]+)", "group": 1, "output": "n"}],
        data,
    )
    assert [r["n"] for r in rows] == [None, "123"]
    rows = run(
        [{"op": "text", "column": "s", "func": "regex_replace", "pattern": "[0-9]", "replacement": "#"}], data
    )
    assert rows[1]["s"] == "ABC-###"


def test_datetime_features_in_a_timezone() -> None:
    utc = dt.UTC
    data = pa.table(
        {
            "t": pa.array(
                [
                    dt.datetime(2024, 6, 1, 6, 30, tzinfo=utc),  # Sat 08:30 in Paris
                    dt.datetime(2024, 6, 3, 12, 0, tzinfo=utc),  # Mon 14:00
                    dt.datetime(2024, 6, 4, 23, 15, tzinfo=utc),  # Wed 01:15 (next day)
                    None,
                ],
                type=pa.timestamp("us", tz="UTC"),
            )
        }
    )
    step = {
        "op": "datetime",
        "column": "t",
        "timezone": "Europe/Paris",
        "features": ["day_of_week", "is_weekend", "hour", "month", "part_of_day", "date"],
    }
    rows = run([step], data)
    got = [(r["t_day_of_week"], r["t_is_weekend"], r["t_hour"], r["t_part_of_day"]) for r in rows]
    assert got == [
        (5, True, 8, "morning_rush"),
        (0, False, 14, "midday"),
        (2, False, 1, "night"),
        (None, None, None, None),
    ]
    assert rows[2]["t_date"] == dt.date(2024, 6, 5)
    assert rows[0]["t_month"] == 6


def test_datetime_naive_timestamps_are_utc_and_custom_parts() -> None:
    data = {"t": [dt.datetime(2024, 1, 1, 7, 0)]}
    step = {
        "op": "datetime",
        "column": "t",
        "timezone": "America/New_York",
        "features": ["hour", "part_of_day"],
        "prefix": "",
        "parts_of_day": {"early": [0, 3], "late": [3, 24]},
    }
    assert run([step], data) == [{"t": dt.datetime(2024, 1, 1, 7, 0), "hour": 2, "part_of_day": "early"}]


def test_join_with_file(tmp_path: Path) -> None:
    path = tmp_path / "zones.parquet"
    pq.write_table(pa.table({"zone": [1, 2], "name": ["north", "south"], "v": [7, 8]}), path)
    data = {"zone": [1, 2, 3], "v": [10, 20, 30]}
    rows = run([{"op": "join", "with": {"path": str(path)}, "on": ["zone"], "how": "left"}], data)
    assert sorted((r["zone"], r["v"], r["name"], r["v_right"]) for r in rows if r["name"]) == [
        (1, 10, "north", 7),
        (2, 20, "south", 8),
    ]
    assert len(rows) == 3
    rows = run([{"op": "join", "with": {"path": str(path)}, "on": {"zone": "zone"}, "how": "anti"}], data)
    assert rows == [{"zone": 3, "v": 30}]
    rows = run(
        [{"op": "join", "with": {"path": str(path)}, "on": ["zone"], "how": "full", "columns": ["name"]}],
        {"zone": [2, 3], "v": [1, 2]},
    )
    assert sorted(r["zone"] for r in rows) == [1, 2, 3]


def test_group_by_aggregations() -> None:
    data = {"k": ["a", "a", "b"], "x": [1, 3, 5], "c": ["p", "q", "p"]}
    step = {
        "op": "group_by",
        "keys": ["k"],
        "aggregations": [
            {"func": "count", "name": "n"},
            {"func": "sum", "column": "x", "name": "total"},
            {"func": "mean", "column": "x", "name": "avg_x"},
            {"func": "count_distinct", "column": "c", "name": "kinds"},
            {"func": "max", "column": "x", "name": "top"},
        ],
    }
    rows = sorted(run([step], data), key=lambda r: r["k"])
    assert rows == [
        {"k": "a", "n": 2, "total": 4, "avg_x": 2.0, "kinds": 2, "top": 3},
        {"k": "b", "n": 1, "total": 5, "avg_x": 5.0, "kinds": 1, "top": 5},
    ]


def test_window_rolling_count_and_sum_per_key() -> None:
    t0 = dt.datetime(2024, 1, 1, 0, 0)
    data = {
        "user": ["u", "u", "u", "v"],
        "ts": [t0, t0 + dt.timedelta(minutes=30), t0 + dt.timedelta(minutes=95), t0],
        "amount": [1, 2, 4, 8],
    }
    step = {
        "op": "window",
        "keys": ["user"],
        "time": "ts",
        "range": "1 hour",
        "aggregations": [
            {"func": "count", "name": "n_1h"},
            {"func": "sum", "column": "amount", "name": "sum_1h"},
        ],
    }
    rows = sorted(run([step], data), key=lambda r: (r["user"], r["ts"]))
    assert [(r["n_1h"], r["sum_1h"]) for r in rows] == [(1, 1), (2, 3), (1, 4), (1, 8)]


def test_custom_sql_reads_input() -> None:
    rows = run([{"op": "sql", "query": "SELECT a * 2 AS b FROM input WHERE a > 1"}], {"a": [1, 2, 3]})
    assert rows == [{"b": 4}, {"b": 6}]


def test_python_function_over_arrow_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "podium_fn_double.py").write_text(
        "import pyarrow.compute as pc\n\n"
        "def double_column(batch):\n"
        "    return batch.append_column('double', pc.multiply(batch.column('a'), 2))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    steps = [
        {"op": "python", "function": "podium_fn_double:double_column", "batch_size": 2},
        {"op": "filter", "expr": "double > 2"},
    ]
    rows = run(steps, {"a": [1, 2, 3, 4, 5]})
    assert sorted(r["double"] for r in rows) == [4, 6, 8, 10]
