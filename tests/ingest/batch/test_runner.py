"""Batch job runs: recipe + contract + partitioned output, quarantine and counts, atomic commit."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from podium.errors import ConflictError, ValidationError
from podium.ingest.batch.datasets import committed_files, read_dataset
from podium.ingest.batch.runner import list_runs, run_job


def _rows(store) -> list[tuple]:
    table = read_dataset(store, "orders")
    return sorted((r["id"], r["city"], r["amount"]) for r in table.to_pylist())


def test_run_applies_recipe_contract_and_partitions(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "Paris", 10), (2, "lyon", 20), (3, "Paris", -5), (3, "Nice", 7)])
    (src_dir / "b.csv").write_text("id,city,amount\n4,Paris,40\n5,Lyon,x,extra\n6,Paris\n")
    make_job(
        store,
        src_dir,
        recipe={"steps": [{"op": "text", "column": "city", "func": "lower"}]},
        contract={
            "columns": {
                "id": {"type": "BIGINT", "required": True, "unique": True},
                "amount": {"type": "DOUBLE", "min": 0},
                "city": {"allowed": ["paris", "lyon"]},
            }
        },
    )
    result = run_job(settings, store, "orders")
    assert result.status == "SUCCEEDED"
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (7, 3, 4)
    assert result.rows_read == result.rows_written + result.rows_quarantined + result.rows_filtered
    assert _rows(store) == [(1, "paris", 10.0), (2, "lyon", 20.0), (4, "paris", 40.0)]
    files = committed_files(store, "orders")
    assert {Path(f).parent.name for f in files} == {"city=paris", "city=lyon"}
    assert all(f.startswith(str(settings.lake_url)) for f in files)

    qfile = Path(settings.lake_url) / "quarantine" / "orders" / f"run={result.run_id}" / "part-0.parquet"
    quarantined = pq.read_table(qfile).to_pylist()
    by_kind = {(q["kind"], Path(q["source_file"]).name, q["line"], q["row"]): q for q in quarantined}
    assert set(by_kind) == {
        ("parse", "b.csv", 3, None),
        ("parse", "b.csv", 4, None),
        ("contract", "a.csv", None, 3),
        ("contract", "a.csv", None, 4),
    }
    assert "amount: -5" in by_kind[("contract", "a.csv", None, 3)]["reason"]
    nice = by_kind[("contract", "a.csv", None, 4)]
    assert "city: nice is not an allowed value" in nice["reason"] and "duplicate key (id)" in nice["reason"]
    assert json.loads(nice["record"])["city"] == "nice"

    run = list_runs(store, "orders")[0]
    assert run["status"] == "SUCCEEDED" and run["rows_quarantined"] == 4 and run["bytes_written"] > 0
    assert run["details"]["quarantine"] == {"parse": 2, "contract": 2}


def test_filtered_rows_are_counted(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1), (2, "a", 2), (3, "b", 3)])
    make_job(store, src_dir, recipe=[{"op": "filter", "expr": "amount > 1"}])
    result = run_job(settings, store, "orders")
    assert (result.rows_read, result.rows_written, result.rows_filtered, result.rows_quarantined) == (3, 2, 1, 0)


def test_failed_run_leaves_no_files_and_is_recorded(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir, contract={"columns": {"customer": {"required": True}}})
    with pytest.raises(ValidationError, match="required column"):
        run_job(settings, store, "orders")
    lake = Path(settings.lake_url)
    assert not list(lake.rglob("*.parquet")) if lake.exists() else True
    run = list_runs(store, "orders")[0]
    assert run["status"] == "FAILED" and "customer" in run["error"]
    assert committed_files(store, "orders") == []


def test_a_second_live_run_is_refused(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    from sqlalchemy import update

    from podium.store.tables.ingest import ingest_runs

    run_job(settings, store, "orders")
    with store.begin() as conn:  # pretend the last run is still going in this process
        conn.execute(update(ingest_runs).values(status="RUNNING"))
    with pytest.raises(ConflictError, match="already has a run in progress"):
        run_job(settings, store, "orders")


def test_job_output_is_a_catalog_table_joinable_from_recipes(settings, store, src_dir: Path, tmp_path: Path, write_csv, make_job) -> None:
    from podium.catalog import get_table
    from podium.catalog.resolver import CatalogResolver
    from podium.prep import apply_recipe, parse_recipe

    write_csv(src_dir, "a.csv", [(1, "paris", 10), (2, "lyon", 20)])
    make_job(store, src_dir)
    run_job(settings, store, "orders")
    table = get_table(store, "orders")
    assert table.managed_by == "orders" and table.partition_keys == ("city",)
    assert {c.name for c in table.columns} == {"id", "city", "amount"}
    import pyarrow as pa

    recipe = parse_recipe([{"op": "join", "with": {"table": "orders"}, "on": ["id"], "how": "inner", "columns": ["amount"]}])
    out = apply_recipe(recipe, pa.table({"id": [2, 3]}), resolver=CatalogResolver(store))
    assert out.to_pylist() == [{"id": 2, "amount": 20}]


def test_glue_start_job_run_shapes(settings, store, src_dir: Path, write_csv, make_job) -> None:
    from podium.ingest.batch.glue import get_job_run, start_job_run

    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    out = start_job_run(settings, store, {"JobName": "orders", "Arguments": {"--job-bookmark-option": "job-bookmark-pause"}})
    assert out["JobRunState"] == "SUCCEEDED" and out["Podium"]["rows_written"] == 1
    assert get_job_run(store, out["Id"])["JobRunState"] == "SUCCEEDED"
    with pytest.raises(ValidationError, match="--job-bookmark-option"):
        start_job_run(settings, store, {"JobName": "orders", "Arguments": {"--job-bookmark-option": "on"}})


def test_memory_source_and_memory_lake(tmp_path: Path, make_job) -> None:
    import uuid

    import fsspec

    from podium.config import Settings
    from podium.store import open_store

    root = f"/podium-test-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{root}/in/a.csv", b"id,city,amount\n1,paris,5\n2,lyon,oops,extra\n3,lyon,7\n")
    settings = Settings.for_home(tmp_path / "home", lake_url=f"memory://{root}/lake")
    store = open_store(settings)
    try:
        make_job(store, f"memory://{root}/in")
        result = run_job(settings, store, "orders")
        assert (result.rows_written, result.rows_quarantined) == (2, 1)
        files = committed_files(store, "orders")
        assert files and all(f.startswith(f"memory://{root}/lake/orders/city=") for f in files)
        assert sorted(r["id"] for r in read_dataset(store, "orders").to_pylist()) == [1, 3]
        assert fs.exists(f"{root}/lake/quarantine/orders/run={result.run_id}/part-0.parquet")
        assert run_job(settings, store, "orders").rows_read == 0
    finally:
        store.dispose()
        fs.rm(root, recursive=True)


def test_an_error_after_commit_keeps_the_committed_run(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "commit" and done == 1:
            raise KeyboardInterrupt  # the user presses Ctrl-C just after the commit

    with pytest.raises(KeyboardInterrupt):
        run_job(settings, store, "orders", progress=progress)
    assert list_runs(store, "orders")[0]["status"] == "SUCCEEDED"
    assert [r["id"] for r in read_dataset(store, "orders").to_pylist()] == [1]


def test_aggregating_recipe_quarantines_without_provenance(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "paris", 10), (2, "paris", 20), (3, "lyon", -5)])
    make_job(
        store,
        src_dir,
        recipe=[{"op": "group_by", "keys": ["city"], "aggregations": [{"func": "sum", "column": "amount", "name": "amount"}]}],
        contract={"columns": {"amount": {"min": 0}}},
    )
    result = run_job(settings, store, "orders")
    assert (result.rows_read, result.rows_filtered, result.rows_written, result.rows_quarantined) == (3, 1, 1, 1)
    qfile = Path(settings.lake_url) / "quarantine" / "orders" / f"run={result.run_id}" / "part-0.parquet"
    [row] = pq.read_table(qfile).to_pylist()
    assert row["source_file"] is None and row["row"] is None and "amount: -5" in row["reason"]
    assert read_dataset(store, "orders").to_pylist() == [{"amount": 30, "city": "paris"}]


def test_parquet_source_is_read_in_place_with_row_positions(settings, store, tmp_path: Path, make_job) -> None:
    """Parquet sources are not copied; quarantined rows still name their file and position,
    also for a file with a column named like DuckDB's row-number column."""
    import pyarrow as pa

    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3], "city": ["a", "b", "a"], "amount": [5.0, -1.0, 7.0]}), folder / "a.parquet")
    pq.write_table(
        pa.table({"id": [4, 5], "city": ["b", "b"], "amount": [-2.0, 1.0], "file_row_number": [10, 11]}),
        folder / "b.parquet",
    )
    make_job(store, folder, contract={"columns": {"amount": {"min": 0}}})
    result = run_job(settings, store, "orders")
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (5, 3, 2)
    qfile = Path(settings.lake_url) / "quarantine" / "orders" / f"run={result.run_id}" / "part-0.parquet"
    bad = sorted((Path(q["source_file"]).name, q["row"]) for q in pq.read_table(qfile).to_pylist())
    assert bad == [("a.parquet", 2), ("b.parquet", 1)]
    rows = sorted((r["id"], r["file_row_number"]) for r in read_dataset(store, "orders").to_pylist())
    assert rows == [(1, None), (3, None), (5, 11)]


def test_run_without_contract_streams_and_counts(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "paris", 10), (2, "lyon", 20), (3, "paris", 30)])
    (src_dir / "b.csv").write_text("id,city,amount\n4,lyon,1\n5,lyon,2,extra\n6,nice,3\n")
    make_job(store, src_dir, recipe=[{"op": "filter", "expr": "amount >= 20"}])
    result = run_job(settings, store, "orders")
    assert (result.rows_read, result.rows_written, result.rows_quarantined, result.rows_filtered) == (6, 2, 1, 3)
    assert _rows(store) == [(2, "lyon", 20.0), (3, "paris", 30.0)]


def test_run_whose_recipe_keeps_nothing_writes_no_files(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "paris", 10), (2, "lyon", 20)])
    make_job(store, src_dir, recipe=[{"op": "filter", "expr": "amount > 100"}])
    result = run_job(settings, store, "orders")
    assert (result.rows_read, result.rows_written, result.rows_filtered) == (2, 0, 2)
    assert committed_files(store, "orders") == []
    lake = Path(settings.lake_url)
    assert not list(lake.rglob("*.parquet")) if lake.exists() else True


def test_contract_plans(settings, store, src_dir: Path, tmp_path: Path, write_csv, make_job) -> None:
    """Row-by-row recipes are checked in one pass and written in a second that skips the
    flagged rows; a join that repeats a source row, or a volatile expression, keeps the
    checked rows in a table instead. Each plan writes good rows and quarantines bad ones."""
    write_csv(src_dir, "a.csv", [(1, "paris", 10), (2, "lyon", -3), (3, "nice", 4)])
    contract = {"columns": {"amount": {"min": 0}}}
    make_job(store, src_dir, recipe=[{"op": "text", "column": "city", "func": "upper"}], contract=contract)
    result = run_job(settings, store, "orders")
    assert result.details["plan"] == "two_pass"
    assert (result.rows_written, result.rows_quarantined) == (2, 1)
    assert _rows(store) == [(1, "PARIS", 10.0), (3, "NICE", 4.0)]

    # One source row joins two extras: one result row breaks the contract, the other is kept.
    extras = tmp_path / "extras.csv"
    extras.write_text("id,bonus\n1,5\n1,-50\n3,1\n")
    recipe = [
        {"op": "join", "with": {"path": str(extras)}, "on": ["id"], "how": "inner"},
        {"op": "sql", "query": "SELECT * REPLACE (amount + bonus AS amount) FROM input"},
    ]
    make_job(store, src_dir, name="joined", recipe=recipe, contract=contract,
             output={"dataset": "joined"}, bookmark="disable")
    joined = run_job(settings, store, "joined")
    assert joined.details["plan"] == "table"
    assert (joined.rows_read, joined.rows_written, joined.rows_quarantined, joined.rows_filtered) == (3, 2, 1, 0)
    assert sorted((r["id"], r["amount"]) for r in read_dataset(store, "joined").to_pylist()) == [(1, 15), (3, 5)]

    make_job(store, src_dir, name="sampled", recipe=[{"op": "filter", "expr": "random() < 2"}], contract=contract,
             output={"dataset": "sampled"}, bookmark="disable")
    sampled = run_job(settings, store, "sampled")
    assert sampled.details["plan"] == "table" and (sampled.rows_written, sampled.rows_quarantined) == (2, 1)


def test_query_progress_moves_during_the_write(settings, store, src_dir: Path, make_job) -> None:
    import duckdb

    duckdb.sql(
        "COPY (SELECT i AS id, ['paris', 'lyon'][CAST(hash(i) % 2 AS INTEGER) + 1] AS city, "
        f"CAST(hash(i * 7) % 100 AS INTEGER) AS amount FROM range(12000000) t(i)) TO '{src_dir / 'big.parquet'}'"
    )
    make_job(store, src_dir, name="big", output={"dataset": "big"}, bookmark="disable",
             recipe=[{"op": "text", "column": "city", "func": "upper"}])
    phases: list[str] = []
    seen: list[tuple[str, float, str]] = []
    result = run_job(settings, store, "big", progress=lambda p, d, t: phases.append(p),
                     query_progress=lambda stage, pct: seen.append((stage, pct, phases[-1])))
    assert result.rows_written == 12_000_000
    # Each value belongs to the phase that was running when it was reported.
    assert all(stage == phase for stage, _, phase in seen), seen
    writes = [pct for stage, pct, _ in seen if stage == "write"]
    assert len(writes) >= 2 and writes[0] < 100, seen
