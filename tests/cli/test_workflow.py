"""`podium workflow validate` and `podium workflow run`, invoked as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium.cli.main import app
from podium.errors import ValidationError

EXAMPLES = Path(__file__).parents[2] / "examples" / "workflows"

BAD_YAML = """\
StartAt: A
States:
  A:
    Type: Pass
    Next: B
    End: true
  C:
    Type: Task
    Resource: r
    Retry:
      - ErrorEquals: [States.ALL, Other]
    Next: Nowhere
"""


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # An empty project directory: no podium.toml, so no [functions] from the repository.
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / ".podium"))
    return CliRunner()


def test_validate_a_valid_example(cli: CliRunner) -> None:
    result = cli.invoke(app, ["workflow", "validate", str(EXAMPLES / "every_state.json")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_lists_every_problem_with_lines_and_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(BAD_YAML)
    result = cli.invoke(app, ["workflow", "validate", str(file), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    got = {(p["code"], p["location"], p["line"]) for p in report["problems"]}
    assert ("ILLEGAL_FIELD", "/States/A/End", 6) in got
    assert ("STATES_ALL_NOT_ALONE", "/States/C/Retry/0/ErrorEquals", 11) in got
    assert ("UNKNOWN_NEXT_TARGET", "/States/C/Next", 12) in got
    assert ("UNREACHABLE_STATE", "/States/C", 7) in got

    table = cli.invoke(app, ["workflow", "validate", str(file)], env={"COLUMNS": "200"})
    assert table.exit_code == 1
    assert "/States/C/Retry/0/ErrorEquals" in table.output
    assert "4 problems" in table.output


def test_validate_reports_parse_errors(cli: CliRunner, tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_text('{"StartAt": "A",\n "States": {,}}')
    result = cli.invoke(app, ["--json", "workflow", "validate", str(file)])
    assert result.exit_code == 1
    problem = json.loads(result.output)["problems"][0]
    assert problem["code"] == "PARSE_ERROR"
    assert "line 2" in problem["message"]


def test_run_succeeds_with_a_python_function(cli: CliRunner) -> None:
    result = cli.invoke(app, [
        "workflow", "run", str(EXAMPLES / "every_state.json"), "--json",
        "--input", f"@{EXAMPLES / 'every_state.input.json'}",
        "--function", f"score={EXAMPLES / 'handlers.py'}:score",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "SUCCEEDED"
    assert report["output"]["fulfilment"]["parcels"] == [{"sku": "mug", "packed": True}, {"sku": "tea", "packed": True}]
    assert "events" not in report


EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml") and ".input" not in p.name)
HANDLERS = [f"{name}={EXAMPLES / 'handlers.py'}:{name}" for name in ("score", "job_status")]


def test_the_examples_include_every_state_type_and_yaml() -> None:
    assert {p.name for p in EXAMPLE_FILES} >= {"every_state.json", "polling_loop.yaml"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_validate_and_run_work_on_every_example(cli: CliRunner, path: Path) -> None:
    checked = cli.invoke(app, ["workflow", "validate", str(path), "--json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["valid"] is True
    args = ["workflow", "run", str(path), "--json", "--input", f"@{path.with_name(path.stem + '.input.json')}"]
    for handler in HANDLERS:
        args += ["--function", handler]
    ran = cli.invoke(app, args)
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.output)
    assert report["status"] == "SUCCEEDED"
    assert report["output"] not in (None, {})


def test_run_failure_prints_error_and_cause_and_exits_1(cli: CliRunner) -> None:
    result = cli.invoke(app, [
        "workflow", "run", str(EXAMPLES / "every_state.json"), "--json",
        "--input", '{"order": {"id": "x", "amount": null, "items": []}}',
        "--function", f"score={EXAMPLES / 'handlers.py'}:score",
    ])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["status"] == "FAILED"
    assert report["error"] == "OrderRejected"
    assert "risk" in report["cause"]


def test_run_with_history(cli: CliRunner) -> None:
    result = cli.invoke(app, [
        "--json", "workflow", "run", str(EXAMPLES / "intrinsics.json"),
        "-i", f"@{EXAMPLES / 'intrinsics.input.json'}", "--history",
    ])
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)["events"]
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionSucceeded"

    human = cli.invoke(app, [
        "workflow", "run", str(EXAMPLES / "intrinsics.json"),
        "-i", f"@{EXAMPLES / 'intrinsics.input.json'}", "--history",
    ], env={"COLUMNS": "200"})
    assert human.exit_code == 0
    assert "PassStateEntered" in human.output and "SUCCEEDED" in human.output


def test_run_refuses_an_invalid_definition(cli: CliRunner, tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(BAD_YAML)
    result = cli.invoke(app, ["workflow", "run", str(file), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["valid"] is False


def test_run_rejects_input_that_is_not_json(cli: CliRunner) -> None:
    result = cli.invoke(app, ["workflow", "run", str(EXAMPLES / "intrinsics.json"), "--input", "{nope"])
    assert isinstance(result.exception, ValidationError)
    assert result.exception.code == "InvalidInput"


def test_run_without_a_handler_fails_the_execution(cli: CliRunner) -> None:
    result = cli.invoke(app, [
        "--json", "workflow", "run", str(EXAMPLES / "every_state.json"),
        "--input", f"@{EXAMPLES / 'every_state.input.json'}",
    ])
    # No 'score' function: the Task fails, the Catch routes to the Fail state.
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "OrderRejected"


@pytest.mark.parametrize("command", ["validate", "run"])
def test_help_has_an_example(cli: CliRunner, command: str) -> None:
    result = cli.invoke(app, ["workflow", command, "--help"])
    assert result.exit_code == 0
    assert f"podium workflow {command} examples/workflows/" in result.output
