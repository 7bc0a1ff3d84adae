"""Progress inside one DuckDB query: values arrive while it runs, and stop when it ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from podium.prep import parse_recipe, run_recipe
from podium.prep.engine import connect
from podium.prep.progress import watch_query

# Takes 1-2 s on two cores: long enough for several polls at 0.1 s.
LONG_QUERY = "SELECT sum(hash(i)) FROM range(300000000) t(i)"


def _record() -> tuple[list[tuple[str, float, float]], object]:
    seen: list[tuple[str, float, float]] = []

    def report(stage: str, percent: float) -> None:
        seen.append((stage, percent, time.monotonic()))

    return seen, report


def test_values_rise_during_one_query_and_stop_after_it() -> None:
    con = connect(threads=2)
    seen, report = _record()
    started = time.monotonic()
    with watch_query(con, "sum", report):  # type: ignore[arg-type]
        con.execute(LONG_QUERY).fetchall()
    ended = time.monotonic()
    time.sleep(0.3)  # the watcher is gone: nothing more arrives
    percents = [p for _, p, _ in seen]
    assert ended - started > 0.5, "the query was too quick to test progress"
    assert len(percents) >= 3, seen
    assert percents == sorted(percents) and len(set(percents)) == len(percents)
    assert 0 < percents[0] < 100 and all(0 <= p <= 100 for p in percents)
    assert {s for s, _, _ in seen} == {"sum"}
    # Reported while the query ran, not all at its end.
    assert seen[0][2] < ended - 0.2
    assert all(t <= ended for _, _, t in seen)
    con.close()


def test_a_failing_callback_stops_watching_but_not_the_query() -> None:
    con = connect(threads=2)
    calls = []

    def report(stage: str, percent: float) -> None:
        calls.append(percent)
        raise RuntimeError("display closed")

    with watch_query(con, "sum", report):
        total = con.execute(LONG_QUERY).fetchall()[0][0]
    assert total is not None and len(calls) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("podium-query-progress")]
    con.close()


def test_without_a_callback_nothing_is_started() -> None:
    con = connect()
    before = threading.active_count()
    with watch_query(con, "x", None):
        assert threading.active_count() == before
        con.execute("SELECT 1").fetchall()
    con.close()


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "big.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, CAST(hash(i) % 12 AS INTEGER) - 1 AS qty, "
        f"'  Note ' || CAST(hash(i * 7) % 1000 AS VARCHAR) || ' MiXed ' AS note "
        f"FROM range(16000000) t(i)) TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


def test_run_recipe_reports_the_write_while_it_runs(big_parquet: Path, tmp_path: Path) -> None:
    recipe = parse_recipe([
        {"op": "filter", "expr": "qty > 0"},
        {"op": "text", "column": "note", "func": "trim"},
        {"op": "text", "column": "note", "func": "upper"},
        {"op": "scale", "columns": ["qty"], "method": "standard"},
    ])
    seen, report = _record()
    out = tmp_path / "out.parquet"
    started = time.monotonic()
    rows = run_recipe(recipe, str(big_parquet), str(out), progress=report)  # type: ignore[arg-type]
    ended = time.monotonic()
    expected = duckdb.sql(f"SELECT count(*) FROM '{big_parquet}' WHERE qty > 0").fetchall()[0][0]
    assert rows == expected == duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchall()[0][0]
    writes = [(p, t) for s, p, t in seen if s == "write"]
    assert {s for s, _, _ in seen} <= {"prepare", "write"}
    assert ended - started > 0.5
    assert len(writes) >= 2, seen
    assert [p for p, _ in writes] == sorted(p for p, _ in writes)
    assert writes[0][0] < 100 and writes[0][1] < ended - 0.1
