"""`podium server`: binding rules, and the worker and scheduler loops it runs beside the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from podium.api.deps import AppContext
from podium.cli.main import main
from podium.cli.server import Processes, is_loopback
from podium.triggers.podium_targets import PodiumTargets
from podium.triggers.scheduler import Scheduler

WAIT_THEN_PASS = {
    "StartAt": "W",
    "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": True}},
}


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("example.org", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_refuses_a_public_address_without_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / ".podium"))
    monkeypatch.delenv("PODIUM_API_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["server", "--host", "0.0.0.0", "--port", "0"])
    assert exit_info.value.code == 1
    assert "without a token" in capsys.readouterr().err


def test_processes_share_the_engine_and_targets_with_the_api_and_stop_promptly(settings, store):
    context = AppContext(settings=settings, store=store)
    processes = Processes(context, worker=True, scheduler=True)
    processes.start()
    try:
        engine = context.services["engine"]
        assert isinstance(context.services["triggers.targets"], PodiumTargets)
        assert processes.describe() == "api, serving router, engine worker, scheduler"
        engine.create_state_machine("nightly", WAIT_THEN_PASS)
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        Scheduler(store).create("soon", f"at({due:%Y-%m-%dT%H:%M:%S})", "workflow:nightly")
        deadline = time.time() + 20
        executions: list = []
        while time.time() < deadline:
            executions = engine.list_executions("nightly").items
            if executions and executions[0].status != "RUNNING":
                break
            time.sleep(0.1)
        assert [e.status for e in executions] == ["SUCCEEDED"]
    finally:
        stopping = time.time()
        processes.stop()
    assert time.time() - stopping < 3.0
    assert not any(thread.is_alive() for thread in processes.threads)


def test_without_loops_nothing_runs_in_the_background(settings, store):
    context = AppContext(settings=settings, store=store)
    processes = Processes(context, worker=False, scheduler=False)
    processes.start()
    assert processes.threads == []
    assert "triggers.targets" not in context.services
    assert processes.describe() == "api, serving router"
    processes.stop()
