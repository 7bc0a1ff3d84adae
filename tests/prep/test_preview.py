"""Previews show the first rows after each step, on a sample of the source."""

from __future__ import annotations

from pathlib import Path

from podium.prep import parse_recipe, preview


def test_preview_of_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n" + "".join(f"{i},{'x' if i % 2 else 'y'}\n" for i in range(100)))
    recipe = parse_recipe(
        [{"op": "filter", "expr": "a >= 10"}, {"op": "onehot", "column": "b"}, {"op": "select", "columns": ["a", "b_x"]}]
    )
    views = preview(recipe, str(path), n=3)
    assert [v.op for v in views] == ["source", "filter", "onehot", "select"]
    assert views[0].rows.num_rows == 3
    assert views[1].rows.column("a").to_pylist() == [10, 11, 12]
    assert views[3].rows.to_pylist() == [{"a": 10, "b_x": 0}, {"a": 11, "b_x": 1}, {"a": 12, "b_x": 0}]


def test_preview_sample_limits_the_statistics(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x\n" + "".join(f"{i}\n" for i in range(1, 101)))
    recipe = parse_recipe([{"op": "scale", "columns": ["x"], "method": "minmax"}])
    views = preview(recipe, str(path), n=10, sample=10)
    assert views[1].rows.column("x").to_pylist()[-1] == 1.0
