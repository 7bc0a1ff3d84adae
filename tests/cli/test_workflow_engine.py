"""`podium workflow` engine commands and `podium function`, run in-process in a project folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium.cli.main import app

HANDLERS = '''
def double(event, context):
    return {"x": event["x"] * 2}

def boom(event, context):
    raise ValueError("nope")
'''

DEFINITION = {
    "StartAt": "Double",
    "States": {
        "Double": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "double", "Payload": {"x.$": "$.x"}},
                   "OutputPath": "$.Payload", "End": True},
    },
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = f"cli_handlers_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(HANDLERS)
    (tmp_path / "podium.toml").write_text(
        f'[functions]\ndouble = "{module}:double"\nboom = "{module}:boom"\n'
    )
    (tmp_path / "flow.json").write_text(json.dumps(DEFINITION))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in [k for k in list(__import__("os").environ) if k.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    yield tmp_path
    sys.modules.pop(module, None)


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, ["--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_create_start_wait_history_executions(project: Path) -> None:
    assert run("workflow", "create", "flow", "--definition", "flow.json")["name"] == "flow"
    assert [m["name"] for m in run("workflow", "list")] == ["flow"]
    done = run("workflow", "start", "flow", "--input", '{"x": 4}', "--name", "r1", "--wait")
    assert (done["status"], done["output"]) == ("SUCCEEDED", {"x": 8})
    arn = done["arn"]
    events = run("workflow", "history", arn, "--reverse", "--limit", "2")
    assert events["events"][0]["type"] == "ExecutionSucceeded" and events["next_token"]
    assert run("workflow", "executions", "flow")["executions"][0]["arn"] == arn
    assert run("workflow", "describe", arn)["status"] == "SUCCEEDED"
    assert run("workflow", "describe", "flow")["definition"] == DEFINITION
    assert run("workflow", "publish", "flow")["version"] == 1
    assert run("workflow", "alias", "flow", "prod", "--route", "1=100")["routing"] == [{"version": 1, "weight": 100}]


def test_stop_and_user_errors(project: Path) -> None:
    (project / "wait.json").write_text(json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}))
    run("workflow", "create", "nap", "--definition", "wait.json")
    started = run("workflow", "start", "nap")
    stopped = run("workflow", "stop", started["arn"], "--error", "Ops", "--cause", "manual")
    assert (stopped["status"], stopped["error"]) == ("ABORTED", "Ops")
    result = CliRunner().invoke(app, ["workflow", "start", "nap", "--input", "{bad"])
    assert result.exit_code != 0


def test_function_list_and_invoke(project: Path) -> None:
    names = [f["name"] for f in run("function", "list")]
    assert names == ["boom", "double"]
    assert run("function", "invoke", "double", "--payload", '{"x": 5}')["result"] == {"x": 10}
    failed = CliRunner().invoke(app, ["--json", "function", "invoke", "boom"])
    assert failed.exit_code == 1
    assert json.loads(failed.output)["error"] == "ValueError"
