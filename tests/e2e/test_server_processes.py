"""`podium server` as a real process: a schedule created over HTTP fires, its workflow runs to
the end on the embedded worker, a model approval starts a workflow through a rule, and
SIGTERM stops everything within a few seconds."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from podium.config import Settings
from podium.models.registry import ModelRegistry
from podium.store import open_store

WORKFLOW = {
    "StartAt": "Wait",
    "States": {
        # A Wait state needs the worker (its timer is a row the worker fires), so reaching
        # SUCCEEDED proves the embedded worker runs, not just StartExecution's first step.
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": {"retrained": True}, "End": True},
    },
}


def _start(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PODIUM_HOME": str(home / ".podium"),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "podium.cli.main", "server", "--port", "0", *args],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _address(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert process.stdout is not None
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"listening on (http://[0-9.]+:\d+)", line)
        if found:
            return found.group(1)
    process.kill()
    raise AssertionError(f"server did not start: {process.stderr.read() if process.stderr else ''}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = _start(tmp_path)
    try:
        yield process, _address(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_schedule_and_events_start_workflows_and_sigterm_stops_the_server(server, tmp_path: Path):
    process, base = server
    home = tmp_path / ".podium"
    with httpx.Client(base_url=base, timeout=10) as http:
        created = http.post("/workflows", json={"name": "retrain", "definition": WORKFLOW})
        assert created.status_code == 201, created.text
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        schedule = http.post("/schedules", json={
            "name": "soon",
            "expression": f"at({due:%Y-%m-%dT%H:%M:%S})",
            "target": "workflow:retrain",
            "input": {"reason": "scheduled"},
        })
        assert schedule.status_code == 201, schedule.text

        def finished():  # type: ignore[no-untyped-def]
            executions = http.get("/executions", params={"state_machine": "retrain"}).json()["executions"]
            done = [e for e in executions if e["status"] != "RUNNING"]
            return executions if done else None

        executions = _wait_for(finished, 30, "the scheduled execution to finish")
        assert len(executions) == 1  # one fire, one execution
        assert executions[0]["status"] == "SUCCEEDED"
        fires = http.get("/schedules/soon/fires").json()
        assert [f["status"] for f in fires] == ["succeeded"]
        assert fires[0]["lateness_seconds"] < 2.0

        # Podium's own events: a model approved by another process (its registry writes the
        # event in the approval's transaction) starts the workflow a rule wires it to, once.
        rule = http.put("/events/rules/approved", json={
            "pattern": {"source": ["podium.models"], "detail": {"ModelApprovalStatus": ["Approved"]}},
            "targets": [{"id": "deploy", "target": "workflow:retrain", "input_path": "$.detail"}],
        })
        assert rule.status_code == 200, rule.text
        registry = ModelRegistry(open_store(Settings.for_home(home)))
        registry.create_group("churn")
        registry.register("churn", artifact_uri="file:///model")
        registry.approve("churn", 1, by="ana")

        def approved_run():  # type: ignore[no-untyped-def]
            executions = http.get("/executions", params={"state_machine": "retrain"}).json()["executions"]
            return [e for e in executions if e["input"].get("ModelApprovalStatus") == "Approved"]

        [deploy] = _wait_for(approved_run, 30, "the approval to start the workflow")
        assert deploy["input"]["ModelPackageGroupName"] == "churn"
        time.sleep(1.5)  # a few more scheduler ticks: nothing is delivered twice
        executions = http.get("/executions", params={"state_machine": "retrain"}).json()["executions"]
        assert len(executions) == 2

    stopping = time.time()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert time.time() - stopping < 8.0  # HTTP first, then the loops (5 s at most)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


def test_server_without_background_loops_still_serves(tmp_path: Path):
    process = _start(tmp_path, "--no-worker", "--no-scheduler")
    try:
        base = _address(process)
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
