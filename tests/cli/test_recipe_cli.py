"""`podium recipe run`: the result on stdout, progress bars on stderr only for a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from podium.cli.main import app

RECIPE = """name: clean
steps:
  - op: filter
    expr: qty > 0
  - op: text
    column: note
    func: trim
  - op: text
    column: note
    func: upper
  - op: scale
    columns: [qty]
    method: standard
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(__import__("os").environ):
        if key.startswith("PODIUM_") or key in ("FORCE_COLOR", "TTY_COMPATIBLE"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.yaml").write_text(RECIPE)
    return tmp_path


def _data(folder: Path, rows: int) -> Path:
    path = folder / "data.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, CAST(hash(i) % 12 AS INTEGER) - 1 AS qty, "
        f"'  Note ' || CAST(hash(i * 7) % 1000 AS VARCHAR) || ' MiXed ' AS note "
        f"FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)"
    )
    return path


def _expected(path: Path) -> int:
    return int(duckdb.sql(f"SELECT count(*) FROM '{path}' WHERE qty > 0").fetchall()[0][0])


def test_run_writes_the_file_and_prints_no_bar_when_not_a_terminal(workdir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    data = _data(workdir, 200_000)
    result = CliRunner().invoke(app, ["--json", "recipe", "run", "clean.yaml", str(data), "-o", "out.parquet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"recipe": "clean", "output": "out.parquet", "rows": _expected(data)}
    assert result.stderr == ""
    # Plain (table) output, piped: no bar either.
    result = CliRunner().invoke(app, ["recipe", "run", "clean.yaml", str(data), "-o", "out.csv"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "━" not in result.stdout and "\x1b" not in result.stdout
    assert str(_expected(data)) in result.stdout
    assert duckdb.sql("SELECT count(*) FROM 'out.csv'").fetchall()[0][0] == _expected(data)


def test_run_draws_a_moving_bar_on_a_terminal_stderr(workdir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    data = _data(workdir, 16_000_000)
    result = CliRunner().invoke(app, ["--json", "recipe", "run", "clean.yaml", str(data), "-o", "out.parquet"])
    assert result.exit_code == 0, result.output
    # --json keeps stdout clean whatever the terminal; bars would only go to stderr.
    assert json.loads(result.stdout)["rows"] == _expected(data)
    assert result.stderr == ""
    result = CliRunner().invoke(app, ["recipe", "run", "clean.yaml", str(data), "-o", "out.parquet"])
    assert result.exit_code == 0, result.output
    assert "━" not in result.stdout
    assert "running + writing" in result.stderr
    # The write bar was drawn at more than one percentage below 100 during the one COPY.
    percents = {int(p) for p in __import__("re").findall(r"running \+ writing\S*\s.*?(\d+)%", result.stderr)}
    assert len({p for p in percents if p < 100}) >= 2, result.stderr[-2000:]
