"""Finished runs publish one "Batch Job Run State Change" event each, with their final
state and counts, in the transaction that records that state; timeouts and interrupts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select, update

from podium.errors import PodiumError, ValidationError
from podium.ingest.batch.glue import job_run
from podium.ingest.batch.runner import get_run, list_runs, run_job
from podium.store.tables.ingest import ingest_runs
from podium.store.tables.triggers import triggers_outbox


def _events(store) -> list[dict]:
    with store.connect() as conn:
        rows = conn.execute(select(triggers_outbox).order_by(triggers_outbox.c.id)).all()
    out = []
    for r in rows:
        assert (r.source, r.detail_type) == ("podium.ingest", "Batch Job Run State Change")
        out.append({**json.loads(r.detail), "resources": json.loads(r.resources)})
    return out


def test_succeeded_run_publishes_one_event_with_its_counts(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "paris", 10), (2, "lyon", -1), (3, "paris", 0)])
    (src_dir / "b.csv").write_text("id,city,amount\n4,nice,4,extra\n")
    make_job(
        store, src_dir,
        recipe=[{"op": "filter", "expr": "amount <> 0"}],
        contract={"columns": {"amount": {"min": 0}}},
    )
    result = run_job(settings, store, "orders")
    events = _events(store)
    assert len(events) == 1
    event = events[0]
    assert event["jobName"] == "orders" and event["jobRunId"] == result.run_id
    assert event["state"] == "SUCCEEDED" and event["severity"] == "INFO"
    stats = event["statistics"]
    assert (stats["read"], stats["written"], stats["quarantined"], stats["filtered"], stats["files"]) == (4, 1, 2, 1, 2)
    assert stats["bytes_written"] == result.bytes_written > 0
    assert event["resources"] == [f"job/orders/run/{result.run_id}"]

    # A re-run with nothing new is a finished run too: one more event, all counts zero.
    again = run_job(settings, store, "orders")
    events = _events(store)
    assert len(events) == 2 and events[1]["jobRunId"] == again.run_id
    assert events[1]["state"] == "SUCCEEDED" and events[1]["statistics"]["read"] == 0


def test_failed_run_publishes_one_failed_event(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir, contract={"columns": {"customer": {"required": True}}})
    with pytest.raises(ValidationError):
        run_job(settings, store, "orders")
    run = list_runs(store, "orders")[0]
    events = _events(store)
    assert len(events) == 1
    assert events[0]["jobRunId"] == run["id"] and events[0]["state"] == "FAILED"
    assert events[0]["severity"] == "ERROR" and "customer" in events[0]["message"]
    assert events[0]["statistics"]["written"] == 0


def test_event_is_rolled_back_with_the_commit(settings, store, src_dir: Path, write_csv, make_job, monkeypatch) -> None:
    """The commit transaction fails part-way: neither SUCCEEDED nor its event is recorded;
    the run ends FAILED with exactly one (FAILED) event."""
    from podium.catalog import tables

    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("catalog write failed")

    monkeypatch.setattr(tables, "put_table", broken)
    with pytest.raises(RuntimeError):
        run_job(settings, store, "orders")
    events = _events(store)
    assert [e["state"] for e in events] == ["FAILED"]
    assert get_run(store, events[0]["jobRunId"])["status"] == "FAILED"


def test_abandoned_run_is_failed_with_an_event(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    first = run_job(settings, store, "orders")
    # Make the first run look like one that died mid-run (its process is gone).
    dead_pid = 2**22 + 12345
    while True:
        try:
            os.kill(dead_pid, 0)
            dead_pid += 1
        except ProcessLookupError:
            break
    with store.begin() as conn:
        conn.execute(update(ingest_runs).where(ingest_runs.c.id == first.run_id).values(status="RUNNING", pid=dead_pid))
    run_job(settings, store, "orders")
    states = [(e["jobRunId"], e["state"]) for e in _events(store)]
    assert states.count((first.run_id, "FAILED")) == 1
    assert get_run(store, first.run_id)["status"] == "FAILED"


def test_interrupted_run_is_stopped(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)

    def interrupt(phase: str, done: int, total: int) -> None:
        if phase == "write":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(settings, store, "orders", progress=interrupt)
    run = list_runs(store, "orders")[0]
    assert run["status"] == "STOPPED"
    assert job_run(run)["JobRunState"] == "STOPPED"
    assert [(e["state"], e["severity"]) for e in _events(store)] == [("STOPPED", "WARN")]
    assert not list(Path(settings.lake_url).rglob("*.parquet")) if Path(settings.lake_url).exists() else True
    # Nothing was committed: the next run reads the file.
    assert run_job(settings, store, "orders").rows_written == 1


def test_timeout_interrupts_a_running_query(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    # A query that would take minutes; the timeout (60 ms) interrupts it inside DuckDB.
    slow = "SELECT * FROM input WHERE (SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3) > 0"
    make_job(store, src_dir, recipe=[{"op": "sql", "query": slow}])
    with pytest.raises(PodiumError) as caught:
        run_job(settings, store, "orders", timeout_minutes=0.001)
    assert caught.value.code == "Timeout"
    run = list_runs(store, "orders")[0]
    assert run["status"] == "TIMEOUT" and "timeout" in run["error"]
    assert [(e["state"], e["severity"]) for e in _events(store)] == [("TIMEOUT", "ERROR")]
    assert job_run(run)["JobRunState"] == "TIMEOUT"


def test_timeout_is_checked_between_phases(settings, store, src_dir: Path, write_csv, make_job) -> None:
    import time

    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir, timeout_minutes=0.001)

    def slow(phase: str, done: int, total: int) -> None:
        if phase == "read":
            time.sleep(0.3)

    with pytest.raises(PodiumError, match="timeout"):
        run_job(settings, store, "orders", progress=slow)
    assert list_runs(store, "orders")[0]["status"] == "TIMEOUT"


def test_bad_timeout_is_rejected(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    with pytest.raises(ValidationError, match="timeout"):
        run_job(settings, store, "orders", timeout_minutes=0)
    assert list_runs(store, "orders") == []


def test_failed_runs_are_retried_as_new_attempts(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir, max_retries=2)
    calls = {"n": 0}

    def flaky(phase: str, done: int, total: int) -> None:
        if phase == "transform" and calls["n"] == 0:
            calls["n"] += 1
            raise RuntimeError("the disk hiccuped")

    result = run_job(settings, store, "orders", progress=flaky)
    first, second = reversed(list_runs(store, "orders"))
    assert first["status"] == "FAILED" and "hiccuped" in first["error"]
    assert second["id"] == result.run_id and second["status"] == "SUCCEEDED"
    assert result.details["attempt"] == 1 and result.details["previous_run_id"] == first["id"]
    assert job_run(result)["Attempt"] == 1 and job_run(result)["PreviousRunId"] == first["id"]
    assert [e["state"] for e in _events(store)] == ["FAILED", "SUCCEEDED"]
    assert result.rows_written == 1


def test_retries_stop_after_max_retries_and_timeouts_are_not_retried(settings, store, src_dir: Path, write_csv, make_job) -> None:
    import time

    write_csv(src_dir, "a.csv", [(1, "a", 1)])
    make_job(store, src_dir, max_retries=2, contract={"columns": {"customer": {"required": True}}})
    with pytest.raises(ValidationError):
        run_job(settings, store, "orders")
    runs = list(reversed(list_runs(store, "orders")))
    assert [r["status"] for r in runs] == ["FAILED"] * 3
    assert [r["details"]["attempt"] for r in runs] == [0, 1, 2]
    assert [r["details"]["previous_run_id"] for r in runs] == [None, runs[0]["id"], runs[1]["id"]]

    def slow(phase: str, done: int, total: int) -> None:
        if phase == "read":
            time.sleep(0.3)

    with pytest.raises(PodiumError, match="timeout"):
        run_job(settings, store, "orders", progress=slow, timeout_minutes=0.001)
    assert [r["status"] for r in list_runs(store, "orders")][0] == "TIMEOUT"
    assert len(list_runs(store, "orders")) == 4
