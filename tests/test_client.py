"""The `Podium` client: one object per project, services built once, shared and closed together."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podium import Podium
from podium.config import Settings

WAIT_THEN_PASS = {
    "StartAt": "Nap",
    "States": {
        "Nap": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"seen.$": "$.order"}, "End": True},
    },
}


def test_import_podium_stays_light() -> None:
    code = "import sys, podium; print(any(m.split('.')[0] in ('sqlalchemy', 'duckdb', 'pyarrow') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_names_resolve_and_unknown_names_fail() -> None:
    import podium

    for name in podium.__all__:
        assert getattr(podium, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        podium.Nope  # noqa: B018


def test_services_are_built_once_and_share_the_store(settings: Settings) -> None:
    with Podium(settings=settings) as pod:
        assert pod.workflows is pod.workflows
        assert pod.workflows.store is pod.store
        assert pod.models is pod.models
        assert pod.events.targets is pod.targets


def test_a_workflow_runs_end_to_end_through_the_client(settings: Settings) -> None:
    with Podium(settings=settings) as pod:
        pod.workflows.create_state_machine("orders", WAIT_THEN_PASS)
        started = pod.workflows.start_execution("orders", input={"order": 7})
        pod.worker(poll_interval=0.01).run_until_done([started.arn], timeout=30)
        finished = pod.workflows.describe_execution(started.arn)
        assert finished.status == "SUCCEEDED"
        assert finished.output == {"seen": 7}


def test_a_rule_target_starts_the_workflow_on_the_clients_engine(settings: Settings) -> None:
    with Podium(settings=settings) as pod:
        pod.workflows.create_state_machine("orders", WAIT_THEN_PASS)
        pod.events.put_rule(
            "new-orders",
            {"source": ["shop"], "detail-type": ["Order Placed"]},
            [{"id": "start", "target": "workflow:orders", "input_path": "$.detail"}],
        )
        pod.events.put_events([{"source": "shop", "detail-type": "Order Placed", "detail": {"order": 42}}])
        pod.events.put_events([{"source": "shop", "detail-type": "Something Else", "detail": {"order": 1}}])
        pod.events.dispatch()
        executions = pod.workflows.list_executions("orders").items
        assert len(executions) == 1
        assert executions[0].input == {"order": 42}


def test_close_releases_everything_and_is_final(tmp_path: Path) -> None:
    pod = Podium(settings=Settings.for_home(tmp_path / "home"))
    pod.workflows.create_state_machine("orders", WAIT_THEN_PASS)
    pod.close()
    pod.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        _ = pod.workflows
    # What it wrote is durable: a new client over the same home sees it.
    with Podium(settings=Settings.for_home(tmp_path / "home")) as again:
        assert [m.name for m in again.workflows.list_state_machines()] == ["orders"]


def test_project_folder_is_found_from_podium_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "shop"
    (project / "sub").mkdir(parents=True)
    (project / "podium.toml").write_text('log_level = "WARNING"\n')
    for key in [k for k in os.environ if k.startswith("PODIUM_")]:
        monkeypatch.delenv(key)
    with Podium(project=project / "sub") as pod:
        assert pod.settings.home == (project / ".podium").resolve()
        assert pod.settings.log_level == "WARNING"


def test_workflows_deploy_to_the_clients_endpoint_service(settings: Settings) -> None:
    # A workflow's createEndpoint must reach the service whose router serves invocations
    # (and that this client shuts down), not a private one of its own.
    with Podium(settings=settings) as pod:
        handler = pod.workflows.router._handlers["arn:aws:states:::sagemaker:createEndpointConfig"]
        assert handler.__self__.endpoints is pod.endpoints
