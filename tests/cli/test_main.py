"""The podium command as a user runs it: a real subprocess in an empty directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def podium(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "podium.cli.main", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600,  # generous: the demo subprocess runs real training on a shared machine
    )


def test_version(tmp_path: Path) -> None:
    result = podium(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("podium ")


def test_init_then_doctor_in_empty_directory(tmp_path: Path) -> None:
    first = podium(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "podium.toml").is_file()
    assert (tmp_path / ".podium" / "podium.db").is_file()
    config_text = (tmp_path / "podium.toml").read_text()

    again = podium(tmp_path, "--json", "init")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["config_created"] is False
    assert (tmp_path / "podium.toml").read_text() == config_text  # idempotent

    doctor = podium(tmp_path, "--json", "doctor")
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["ok"] is True
    checks = {c["check"]: c["status"] for c in report["checks"]}
    assert checks["metadata store"] == "ok" and checks["lake"] == "ok"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[podium]\nbogus_key = 1\n', "bogus_key"),
        ("[podium\n", "malformed TOML"),
        ('[podium]\nmetadata_url = "postgresql+psycopg://postgres@127.0.0.1:1/x?connect_timeout=2"\n',
         "'metadata_url' in"),
    ],
)
def test_bad_config_is_one_line_without_traceback(tmp_path: Path, toml: str, expected: str) -> None:
    (tmp_path / "podium.toml").write_text(toml)
    result = podium(tmp_path, "db", "upgrade")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_doctor_reports_failed_backend(tmp_path: Path) -> None:
    result = podium(tmp_path, "--json", "doctor", env={"PODIUM_STREAMS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {c["check"]: c["status"] for c in report["checks"]}["streams"] == "fail"


def test_doctor_does_not_claim_an_executor_that_is_not_built(tmp_path: Path) -> None:
    result = podium(tmp_path, "--json", "doctor", env={"PODIUM_EXECUTOR": "ray"})
    assert result.returncode == 1
    executor = next(c for c in json.loads(result.stdout)["checks"] if c["check"] == "executor")
    assert executor["status"] == "fail" and "local pools" in executor["detail"]


def test_debug_shows_traceback(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text("[podium]\nbogus_key = 1\n")
    result = podium(tmp_path, "--debug", "doctor")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_db_upgrade_and_status(tmp_path: Path) -> None:
    upgrade = podium(tmp_path, "--json", "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    status = json.loads(podium(tmp_path, "--json", "db", "status").stdout)
    assert status["up_to_date"] is True
    assert status["current"] == status["heads"]


def test_server_refuses_public_bind_without_token(tmp_path: Path) -> None:
    result = podium(tmp_path, "server", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 1
    assert "api_token" in result.stderr


@pytest.mark.slow
def test_demo_exits_zero_and_is_honest(tmp_path: Path) -> None:
    result = podium(tmp_path, "--json", "demo", "--small", "--home", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    statuses = {stage["status"] for stage in report["stages"]}
    assert statuses <= {"done", "not built yet"}
    assert report["stages"][0]["status"] == "done"
