"""`podium job` and `podium catalog` as a user drives them (in process, real store and lake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key in list(__import__("os").environ):
        if key.startswith("PODIUM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> dict | list | str:
        result = runner.invoke(app, ["--json", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:
            return result.stdout

    return invoke


def test_job_create_run_runs_and_bookmarks(cli, tmp_path: Path, src_dir: Path, write_csv) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 5), (2, "b", -1)])
    (tmp_path / "clean.yaml").write_text("steps:\n  - op: text\n    column: city\n    func: upper\n")
    (tmp_path / "job.yaml").write_text(
        f"name: orders\nsource: {{path: '{src_dir}'}}\nrecipe: clean.yaml\n"
        "contract: {columns: {amount: {min: 0}}}\n"
        "output: {dataset: sales/orders, partition_by: [city]}\nbookmark: enable\n"
    )
    created = cli("job", "create", str(tmp_path / "job.yaml"))
    assert created["version"] == 1
    run = cli("job", "run", "orders")
    assert (run["status"], run["rows_written"], run["rows_quarantined"]) == ("SUCCEEDED", 1, 1)
    assert cli("job", "run", "orders")["rows_read"] == 0
    runs = cli("job", "runs", "orders")
    assert [r["number"] for r in runs] == [2, 1]
    assert cli("job", "bookmark", "show", "orders")["files_remembered"] == 1
    cli("job", "bookmark", "rewind", "orders", runs[1]["id"])
    cli("job", "bookmark", "reset", "orders")
    assert cli("job", "run", "orders", "--bookmark", "pause")["rows_read"] == 2
    tables = cli("catalog", "tables")
    assert [t["name"] for t in tables] == ["sales_orders"]
    described = cli("catalog", "describe", "sales_orders")
    assert described["partition_keys"] == ["city"] and described["managed_by"] == "orders"


def test_catalog_crawl_and_versions(cli, tmp_path: Path) -> None:
    data = tmp_path / "lake" / "events"
    data.mkdir(parents=True)
    (data / "a.csv").write_text("id,v\n1,2\n")
    first = cli("catalog", "crawl", str(data))
    assert first["created"] and first["version"] == 1
    (data / "a.csv").write_text("id,v,w\n1,x,3\n")
    second = cli("catalog", "crawl", str(data))
    assert second["version"] == 2 and second["summary"] == "+w BIGINT, ~v BIGINT->VARCHAR"
    versions = cli("catalog", "versions", "events")
    assert [v["changes"] for v in versions] == ["first version", "+w BIGINT, ~v BIGINT->VARCHAR"]


def test_recipe_commands(cli, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x,y,t\n" + "".join(f"{i},{i % 2},{i * 3}\n" for i in range(30)))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nsteps:\n  - op: filter\n    expr: x > 3\n  - op: scale\n    columns: [x]\n    method: minmax\n")
    checked = cli("recipe", "check", str(recipe), str(data))
    assert checked["valid"] and checked["steps"] == 2
    views = cli("recipe", "preview", str(recipe), str(data), "-n", "2")
    assert [v["op"] for v in views] == ["source", "filter", "scale"]
    assert views[2]["rows"][0]["x"] == 0.0
    report = cli("recipe", "report", str(recipe), "-s", str(data), "--target", "t", "-o", str(tmp_path / "q.html"))
    assert (tmp_path / "q.html").read_text().count("<svg") >= 3
    assert "x" in report["leakage_hints"]
    cli("recipe", "export", str(recipe), "--to", "script", "-s", str(data), "-o", str(tmp_path / "r.py"))
    assert "FINAL_SQL" in (tmp_path / "r.py").read_text()
    flow = cli("recipe", "export", str(recipe), "--to", "workflow", "--job", "nightly")
    assert flow["States"]["RunJob"]["Resource"] == "arn:aws:states:::glue:startJobRun.sync"


def test_invalid_recipe_exits_with_step_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from podium.cli.main import main

    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - op: drop\n    columns: [a]\n  - op: fill\n    columns: [b]\n")
    with pytest.raises(SystemExit) as info:
        main(["recipe", "check", str(bad)])
    assert info.value.code == 1
    assert "error [ValidationError]: invalid recipe: step 2 (fill)" in capsys.readouterr().err


def _big_parquet(folder: Path, rows: int) -> None:
    import duckdb

    duckdb.sql(
        f"COPY (SELECT i AS id, ['paris', 'lyon', 'nice'][CAST(hash(i) % 3 AS INTEGER) + 1] AS city, "
        f"CAST(hash(i * 7) % 100 AS INTEGER) AS amount FROM range({rows}) t(i)) "
        f"TO '{folder / 'big.parquet'}' (FORMAT parquet)"
    )


def test_job_run_bars_only_on_a_terminal(tmp_path: Path, src_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    for key in list(__import__("os").environ):
        if key.startswith("PODIUM_") or key in ("FORCE_COLOR", "TTY_COMPATIBLE"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    _big_parquet(src_dir, 12_000_000)
    (tmp_path / "job.yaml").write_text(
        f"name: orders\nsource: {{path: '{src_dir}'}}\n"
        "recipe: [{op: text, column: city, func: upper}, {op: scale, columns: [amount], method: standard}]\n"
        "output: {dataset: orders}\nbookmark: disable\n"
    )
    runner = CliRunner()
    assert runner.invoke(app, ["--json", "job", "create", "job.yaml"]).exit_code == 0
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    piped = runner.invoke(app, ["job", "run", "orders"])
    assert piped.exit_code == 0, piped.output
    assert piped.stderr == "" and "━" not in piped.stdout and "SUCCEEDED" in piped.stdout
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    shown = runner.invoke(app, ["--json", "job", "run", "orders"])
    assert shown.exit_code == 0 and shown.stderr == ""
    assert json.loads(shown.stdout)["rows_written"] == 12_000_000
    shown = runner.invoke(app, ["job", "run", "orders"])
    assert shown.exit_code == 0, shown.output
    assert "━" not in shown.stdout and "writing Parquet" in shown.stderr
    # Bars moved inside the phases whose work is one DuckDB query (0/1 then 1/1 otherwise).
    inside = {(label, int(p)) for label, p in re.findall(r"(recipe \+ contract|writing Parquet)\S*\s.*?(\d+)%", shown.stderr)}
    assert [p for _, p in inside if 0 < p < 100], shown.stderr[-2000:]
