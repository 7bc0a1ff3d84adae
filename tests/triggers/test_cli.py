"""`podium schedule` and `podium events` as a user types them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from podium.cli.main import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def podium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process (a subprocess per command costs seconds of imports)."""
    for key in list(os.environ):
        if key.startswith("PODIUM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)

    def run(_cwd: Path, *args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def test_schedule_lifecycle(tmp_path: Path, podium) -> None:
    created = podium(tmp_path, "--json", "schedule", "create", "nightly", "cron(0 2 * * ? *)",
                     "--target", "retrain", "--timezone", "Europe/Paris", "--input", '{"k": 1}')
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["input"] == {"k": 1}
    listing = json.loads(podium(tmp_path, "--json", "schedule", "list").stdout)
    assert [s["name"] for s in listing] == ["nightly"]
    upcoming = json.loads(podium(tmp_path, "--json", "schedule", "next", "nightly", "-n", "2",
                                 "--after", "2026-01-05T00:00:00Z").stdout)
    assert [row["utc"] for row in upcoming] == ["2026-01-05T01:00:00+00:00", "2026-01-06T01:00:00+00:00"]
    paused = json.loads(podium(tmp_path, "--json", "schedule", "pause", "nightly").stdout)
    assert paused["state"] == "DISABLED"
    described = json.loads(podium(tmp_path, "--json", "schedule", "describe", "nightly").stdout)
    assert described["recent_fires"] == [] and described["timezone"] == "Europe/Paris"
    assert podium(tmp_path, "schedule", "delete", "nightly").returncode == 0
    missing = podium(tmp_path, "schedule", "describe", "nightly")
    assert missing.returncode == 1 and "error [NotFound]" in missing.stderr + missing.stdout


def test_schedule_errors_and_preview(tmp_path: Path, podium) -> None:
    bad = podium(tmp_path, "schedule", "create", "x", "cron(0 10 * * * *)", "--target", "t")
    assert bad.returncode == 1
    output = bad.stderr + bad.stdout
    assert "error [InvalidScheduleExpression]" in output and "day-of-week" in output
    preview = podium(tmp_path, "schedule", "next", "cron(30 2 * * ? *)", "--timezone",
                     "America/New_York", "--after", "2026-03-07T00:00:00Z", "-n", "2")
    assert preview.returncode == 0, preview.stderr
    assert "2026-03-07T02:30:00-05:00" in preview.stdout and "2026-03-09T02:30:00-04:00" in preview.stdout


def test_events_commands(tmp_path: Path, podium) -> None:
    rule = podium(tmp_path, "--json", "events", "put-rule", "new-file", "--pattern",
                  '{"source": ["podium.lake"], "detail": {"key": [{"suffix": ".csv"}]}}',
                  "--targets", '[{"id": "t", "target": "ingest"}]')
    assert rule.returncode == 0, rule.stderr
    rules = json.loads(podium(tmp_path, "--json", "events", "rules").stdout)
    assert rules[0]["name"] == "new-file" and rules[0]["targets"] == ["t->ingest"]
    put = podium(tmp_path, "--json", "events", "put", "--source", "podium.lake",
                 "--detail-type", "Object Created", "--detail", '{"key": "raw/a.csv"}')
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["event_id"]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"source": "podium.lake", "detail": {"key": "a.csv"}}))
    tested = podium(tmp_path, "--json", "events", "test-pattern", "--pattern",
                    '{"detail": {"key": [{"suffix": ".csv"}]}}', "--event", f"@{event}")
    assert json.loads(tested.stdout) == {"matches": True}
    invalid = podium(tmp_path, "events", "test-pattern", "--pattern", '{"source": "x"}', "--event", "{}")
    assert invalid.returncode == 1 and "InvalidEventPattern" in invalid.stderr + invalid.stdout


def test_watch_commands(tmp_path: Path, podium) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    created = podium(tmp_path, "--json", "events", "watch", "landing", str(landing))
    assert created.returncode == 0, created.stderr
    listed = json.loads(podium(tmp_path, "--json", "events", "watches").stdout)
    assert listed == [{"name": "landing", "location": str(landing)}]
    assert podium(tmp_path, "events", "unwatch", "landing").returncode == 0
    missing = podium(tmp_path, "events", "unwatch", "landing")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
