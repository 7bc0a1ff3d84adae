"""Glue Task resources running real Podium batch jobs inside ASL workflows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from podium.asl import execute
from podium.config import Settings
from podium.ingest.batch.jobs import create_job, parse_job
from podium.ingest.batch.runner import get_run, list_runs
from podium.integrations import build_resources
from podium.models import Lineage
from podium.store import Store


def workflow(resource: str) -> dict:  # type: ignore[type-arg]
    return {"StartAt": "Ingest", "States": {"Ingest": {
        "Type": "Task", "Resource": resource,
        "Parameters": {"JobName": "orders", "Arguments": {"--job-bookmark-option": "job-bookmark-enable"}},
        "End": True}}}


@pytest.fixture
def landing(settings: Settings, store: Store, tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "day1.csv").write_text("id,amount\n1,10.5\n2,-3\n3,7\n")
    create_job(store, parse_job({
        "name": "orders", "source": {"path": str(folder), "read": {"format": "csv"}},
        "contract": {"columns": {"amount": {"min": 0}}},
        "output": {"dataset": "sales/orders"}, "bookmark": "enable",
    }))
    return folder


def test_sync_run_returns_the_job_run_and_bookmark_reads_only_new_files(
        settings: Settings, store: Store, landing: Path) -> None:
    resources = build_resources(settings, store)
    first = execute(workflow("arn:aws:states:::glue:startJobRun.sync"), {}, resources=resources)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert first.output["JobRunState"] == "SUCCEEDED"
    assert first.output["Podium"]["rows_read"] == 3
    assert first.output["Podium"]["rows_written"] == 2 and first.output["Podium"]["rows_quarantined"] == 1
    (landing / "day2.csv").write_text("id,amount\n4,1\n")
    second = execute(workflow("arn:aws:states:::glue:startJobRun.sync"), {}, resources=resources)
    assert second.output["Podium"]["files_read"] == 1 and second.output["Podium"]["rows_read"] == 1
    # Lineage: the landing folder fed each run, and each run produced the dataset.
    lineage = Lineage(store)
    [dataset] = lineage.find("dataset", f"{settings.lake_url.rstrip('/')}/sales/orders")
    upstream = lineage.upstream(dataset.id)
    assert sorted(c.entity.name for c in upstream.children) == sorted([first.output["Id"], second.output["Id"]])
    assert upstream.children[0].children[0].entity.name == str(landing)


def test_failed_run_fails_the_task_as_task_failed(settings: Settings, store: Store, landing: Path) -> None:
    (landing / "day1.csv").write_text("id,amount\n1,x\n")  # rewritten: read again, and the recipe breaks
    create_job(store, parse_job({
        "name": "orders", "source": {"path": str(landing), "read": {"format": "csv"}},
        "recipe": [{"op": "drop", "columns": ["no_such_column"]}],
        "output": {"dataset": "sales/orders"}, "bookmark": "enable",
    }), replace=True)
    execution = execute(workflow("arn:aws:states:::glue:startJobRun.sync"), {},
                        resources=build_resources(settings, store))
    assert (execution.status, execution.error) == ("FAILED", "States.TaskFailed")
    assert "no_such_column" in (execution.cause or "")


def test_missing_job_name_is_rejected(settings: Settings, store: Store) -> None:
    definition = workflow("arn:aws:states:::glue:startJobRun.sync")
    definition["States"]["Ingest"]["Parameters"] = {}
    execution = execute(definition, {}, resources=build_resources(settings, store))
    assert execution.status == "FAILED" and "JobName" in (execution.cause or "")


def test_start_without_sync_answers_with_the_run_id(settings: Settings, store: Store, landing: Path) -> None:
    execution = execute(workflow("arn:aws:states:::glue:startJobRun"), {}, resources=build_resources(settings, store))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    run_id = execution.output["JobRunId"]
    assert execution.output["JobName"] == "orders"
    assert run_id in {r["id"] for r in list_runs(store, "orders")}
    deadline = time.monotonic() + 30
    while get_run(store, run_id)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get_run(store, run_id)["status"] == "SUCCEEDED"
