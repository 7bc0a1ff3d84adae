"""Export: the standalone script reproduces the recipe; the workflow is an ASL Task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from podium.prep import parse_recipe, prepare
from podium.prep.engine import connect
from podium.prep.executor import source_from
from podium.prep.export import GLUE_SYNC, to_script, to_workflow

RECIPE = [
    {"op": "fill", "columns": ["amount"], "strategy": "median"},
    {"op": "onehot", "column": "city"},
    {"op": "scale", "columns": ["amount"], "method": "standard"},
    {"op": "datetime", "column": "ts", "features": ["hour", "part_of_day"], "timezone": "Europe/Paris"},
    {"op": "python", "function": "podium_export_fn:double_column"},
    {"op": "bin", "column": "a", "method": "quantile", "bins": 3},
]


FUNCTION_MODULE = """
import pyarrow.compute as pc


def double_column(batch):
    return batch.append_column("double", pc.multiply(batch.column("a"), 2))
"""


def test_exported_script_gives_the_same_result(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "podium_export_fn.py").write_text(FUNCTION_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    src = tmp_path / "in.csv"
    src.write_text(
        "a,city,amount,ts\n"
        + "".join(f"{i},{['x', 'y', 'z'][i % 3]},{'' if i % 7 == 0 else i * 1.5},2024-03-0{1 + i % 5} {i % 24:02d}:00:00\n" for i in range(60))
    )
    recipe = parse_recipe({"name": "demo", "steps": RECIPE})
    con = connect()
    name = source_from(con, str(src))
    prepared = prepare(recipe, con, name)
    expected = con.sql(prepared.sql + " ORDER BY a").to_arrow_table()
    script = tmp_path / "recipe.py"
    script.write_text(to_script(prepared, [str(src)]))
    out = tmp_path / "out.parquet"
    proc = subprocess.run(
        [sys.executable, str(script), "--output", str(out)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = pq.read_table(out).sort_by("a")
    assert got.column_names == expected.column_names
    assert got.to_pylist() == expected.to_pylist()
    assert "city_x" in got.column_names and "double" in got.column_names


def test_workflow_is_an_asl_glue_task() -> None:
    doc = to_workflow("nightly", bookmark="enable")
    task = doc["States"][doc["StartAt"]]
    assert task["Type"] == "Task" and task["Resource"] == GLUE_SYNC
    assert task["Parameters"] == {"JobName": "nightly", "Arguments": {"--job-bookmark-option": "job-bookmark-enable"}}
    assert task["End"] is True
