"""Registered resources (Podium's integrations) on the durable engine and in `podium worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from podium.asl.errors import AslRuntimeError
from podium.config import load_settings
from podium.engine import Engine, Worker
from podium.models.registry import ModelRegistry
from podium.store import Store, open_store

FLAKY = "arn:aws:states:::podium:test.flaky"
PACKAGE = "arn:aws:states:::sagemaker:createModelPackage"


class Flaky:
    """A resource that raises States.TaskFailed (with a cause) its first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, params: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise AslRuntimeError("States.TaskFailed", f"job {params['job']} failed (call {self.calls})")
        return {"job": params["job"], "calls": self.calls}


def _run(engine: Engine, definition: dict[str, Any]) -> Any:
    engine.create_state_machine("m", definition)
    run = engine.start_execution("m", {"job": "nightly"})
    worker = Worker(engine, poll_interval=0.02)
    worker.run_until_done([run.arn], 30)
    worker.close()
    events = engine.get_execution_history(run.arn, limit=1000).items
    return engine.describe_execution(run.arn), events


def test_a_resource_raising_task_failed_is_caught_on_the_engine(settings, any_store: Store) -> None:
    flaky = Flaky(failures=100)
    engine = Engine(settings, any_store, resources={FLAKY: flaky})
    try:
        done, events = _run(engine, {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FLAKY, "Parameters": {"job.$": "$.job"},
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Handled"}],
                  "End": True},
            "Handled": {"Type": "Pass", "End": True}}})
    finally:
        engine.close()
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert done.output["err"] == {"Error": "States.TaskFailed", "Cause": "job nightly failed (call 1)"}
    failed = [(e.details["error"], e.details["cause"]) for e in events if e.type == "TaskFailed"]
    assert failed == [("States.TaskFailed", "job nightly failed (call 1)")]
    assert flaky.calls == 1


def test_a_resource_raising_task_failed_is_retried_on_the_engine(settings, store: Store) -> None:
    flaky = Flaky(failures=2)
    engine = Engine(settings, store, resources={FLAKY: flaky})
    try:
        done, events = _run(engine, {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": FLAKY, "Parameters": {"job.$": "$.job"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "BackoffRate": 1,
                       "MaxAttempts": 3}],
            "End": True}}})
    finally:
        engine.close()
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert done.output == {"job": "nightly", "calls": 3}
    causes = [e.details["cause"] for e in events if e.type == "TaskFailed"]
    assert causes == ["job nightly failed (call 1)", "job nightly failed (call 2)"]
    assert flaky.calls == 3


def _package_workflow() -> dict[str, Any]:
    return {"StartAt": "Register", "States": {"Register": {
        "Type": "Task", "Resource": PACKAGE,
        "Parameters": {"ModelPackageGroupName": "churn",
                       "InferenceSpecification": {"Containers": [{"ModelDataUrl": "file:///m"}]}},
        "End": True}}}


def _wait_status(engine: Engine, arn: str, timeout: float) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = engine.describe_execution(arn)
        if info.status != "RUNNING":
            return info
        time.sleep(0.1)
    raise AssertionError(f"{arn} still RUNNING after {timeout} s")


@pytest.mark.slow
def test_podium_worker_runs_podium_integration_resources(tmp_path: Path) -> None:
    """`podium worker` as the CLI starts it knows the integrations without any setup."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "podium.toml").write_text("[podium]\n")
    settings = load_settings(cwd=project, environ={})
    store = open_store(settings)
    engine = Engine(settings, store, resources={})  # this process runs nothing
    engine.create_state_machine("register", _package_workflow())
    run = engine.start_execution("register")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "podium.cli.main", "worker", "--poll-interval", "0.05"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        done = _wait_status(engine, run.arn, 60)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=20)[0].decode()
    assert done.status == "SUCCEEDED", (done.error, done.cause, output[-2000:])
    assert done.output["ModelPackage"] == "churn/1"
    assert ModelRegistry(store).describe("churn", 1)["ArtifactUri"] == "file:///m"
    engine.close()
    store.dispose()


def test_the_server_worker_runs_podium_integration_resources(settings, store: Store) -> None:
    """`podium server`'s embedded worker (cli.server.Processes) uses the same default engine."""
    from podium.cli.server import Processes

    context = SimpleNamespace(settings=settings, store=store, services={})
    processes = Processes(context, worker=True, scheduler=False)
    processes.start()
    try:
        engine = processes.engine
        engine.create_state_machine("register", _package_workflow())
        done = _wait_status(engine, engine.start_execution("register").arn, 30)
    finally:
        processes.stop()
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert done.output["ModelPackageVersion"] == 1
