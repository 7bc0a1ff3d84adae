"""`podium schedule` and `podium events` as a user types them."""

from __future__ import annotations

import io
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


def test_schedule_groups_and_per_command_json(tmp_path: Path, podium) -> None:
    made = podium(tmp_path, "schedule", "group", "create", "ml-nightly", "--description", "retrain", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["arn"].endswith(":schedule-group/ml-nightly")
    (tmp_path / "input.json").write_text('{"run": "<aws.scheduler.scheduled-time>"}')
    created = podium(tmp_path, "schedule", "create", "train", "at(2030-01-01T02:00:00)", "--target", "t",
                     "--group", "ml-nightly", "--action-after-completion", "delete", "--input", "@input.json",
                     "--dead-letter", "stream:failures", "--json")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert (data["group"], data["action_after_completion"], data["dead_letter"]) == (
        "ml-nightly", "DELETE", "stream:failures")
    assert data["input"] == {"run": "<aws.scheduler.scheduled-time>"}
    groups = json.loads(podium(tmp_path, "schedule", "group", "list", "--json").stdout)
    assert {g["name"]: g["schedules"] for g in groups} == {"default": 0, "ml-nightly": 1}
    described = json.loads(podium(tmp_path, "schedule", "group", "describe", "ml-nightly", "--json").stdout)
    assert described["schedule_names"] == ["train"]
    in_group = json.loads(podium(tmp_path, "schedule", "list", "-g", "ml-nightly", "--json").stdout)
    assert [s["name"] for s in in_group] == ["train"]
    assert json.loads(podium(tmp_path, "schedule", "list", "-g", "default", "--json").stdout) == []
    assert json.loads(podium(tmp_path, "schedule", "fires", "train", "-g", "ml-nightly", "--json").stdout) == []
    missing = podium(tmp_path, "schedule", "describe", "train")  # not in the default group
    assert missing.returncode == 1 and "does not exist in group 'default'" in missing.stderr
    table = podium(tmp_path, "schedule", "list")
    assert "ml-nightly" in table.stdout and "train" in table.stdout
    updated = podium(tmp_path, "schedule", "update", "train", "-g", "ml-nightly", "--expression",
                     "cron(0 3 * * ? *)", "--dead-letter", "", "--json")
    assert updated.returncode == 0, updated.stderr
    data = json.loads(updated.stdout)
    assert (data["expression"], data["dead_letter"], data["action_after_completion"]) == (
        "cron(0 3 * * ? *)", None, "DELETE")
    nothing = podium(tmp_path, "schedule", "update", "train", "-g", "ml-nightly")
    assert nothing.returncode == 1 and "nothing to update" in nothing.stderr
    deleted = json.loads(podium(tmp_path, "schedule", "group", "delete", "ml-nightly", "--json").stdout)
    assert deleted == {"deleted": "ml-nightly", "schedules_deleted": 1}
    assert json.loads(podium(tmp_path, "--json", "schedule", "list").stdout) == []
    refused = podium(tmp_path, "schedule", "group", "delete", "default")
    assert refused.returncode == 1 and "cannot be deleted" in refused.stderr


def test_rule_state_archive_replay_and_dead_letters(tmp_path: Path, podium) -> None:
    podium(tmp_path, "events", "put-rule", "files", "--pattern", '{"source": ["podium.lake"]}',
           "--targets", '[{"id": "t", "target": "ingest", "max_retry_attempts": 0}]')
    described = json.loads(podium(tmp_path, "events", "describe-rule", "files", "--json").stdout)
    assert described["targets"][0]["max_retry_attempts"] == 0
    assert json.loads(podium(tmp_path, "events", "disable-rule", "files", "--json").stdout)["state"] == "DISABLED"
    assert json.loads(podium(tmp_path, "events", "enable-rule", "files", "--json").stdout)["state"] == "ENABLED"
    for day in ("04", "05"):
        put = podium(tmp_path, "events", "put", "--source", "podium.lake", "--detail-type", "Object Created",
                     "--detail", '{"key": "a.csv"}', "--time", f"2026-01-{day}T10:00:00Z", "--json")
        assert put.returncode == 0, put.stderr
    archived = json.loads(podium(tmp_path, "events", "archive", "--start", "2026-01-05T00:00:00Z",
                                 "--source", "podium.lake", "--json").stdout)
    assert [e["time"] for e in archived] == ["2026-01-05T10:00:00Z"]
    replayed = podium(tmp_path, "events", "replay", "fix-1", "--start", "2026-01-04T00:00:00Z",
                      "--end", "2026-01-06T00:00:00Z", "--rule", "files", "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == {"name": "fix-1", "deliveries": 2}
    again = podium(tmp_path, "events", "replay", "fix-1", "--start", "2026-01-04T00:00:00Z",
                   "--end", "2026-01-06T00:00:00Z")
    assert again.returncode == 1 and "already run" in again.stderr
    (listed,) = json.loads(podium(tmp_path, "events", "replays", "--json").stdout)
    assert (listed["name"], listed["events"], listed["rules"]) == ("fix-1", 2, ["files"])
    # Nothing is registered as "ingest" in this process: delivering dead-letters it at once.
    from podium.config import load_settings
    from podium.store import open_store
    from podium.triggers.bus import EventBus

    store = open_store(load_settings(tmp_path))
    try:
        EventBus(store).dispatch()
    finally:
        store.dispose()
    dead = json.loads(podium(tmp_path, "events", "deliveries", "--status", "dead", "--json").stdout)
    assert len(dead) == 4 and {d["origin_name"] for d in dead} == {"files"}
    letters = json.loads(podium(tmp_path, "events", "dead-letters", "--origin", "files", "--json").stdout)
    assert len(letters) == 4 and {d["reason"] for d in letters} == {"target-not-found"}
    assert "target-not-found" in podium(tmp_path, "events", "dead-letters").stdout
    purged = json.loads(podium(tmp_path, "events", "purge-archive", "--before", "2026-01-05T00:00:00Z",
                               "--json").stdout)
    assert purged == {"purged": 1}


def test_put_several_entries_with_partial_failure(tmp_path: Path, podium, monkeypatch) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join([
        json.dumps({"source": "podium.lake", "detail-type": "Object Created", "detail": {"n": 1}}),
        "{not json",
        json.dumps({"source": "podium.lake", "detail-type": "Object Created", "detail": [1]}),
        "",
        json.dumps({"source": "podium.lake", "detail-type": "Object Created", "detail": {"n": 2}}),
    ]) + "\n")
    put = podium(tmp_path, "events", "put", "--entries", f"@{lines}", "--json")
    assert put.returncode == 1  # some entries failed
    result = json.loads(put.stdout)
    assert result["failed_entry_count"] == 2
    assert [(e["index"], e.get("error_code")) for e in result["entries"]] == [
        (0, None), (1, "InvalidArgument"), (2, "MalformedDetail"), (3, None),
    ]
    assert "line 2" in result["entries"][1]["error_message"]
    assert result["entries"][2]["error_message"].startswith("entries[2].detail")
    archived = json.loads(podium(tmp_path, "--json", "events", "archive").stdout)
    assert sorted(e["detail"]["n"] for e in archived) == [1, 2]

    # A JSON array of 12 from stdin goes in two batches; all good, exit status 0.
    many = [{"source": "s", "detail-type": "d", "detail": {"i": i}} for i in range(12)]
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(many)))
    put = podium(tmp_path, "events", "put", "--entries", "-", "--json")
    assert put.returncode == 0, put.stderr
    result = json.loads(put.stdout)
    assert result["failed_entry_count"] == 0 and len({e["event_id"] for e in result["entries"]}) == 12
    table = podium(tmp_path, "events", "put", "--entries", '[{"source": "s"}]')
    assert table.returncode == 1 and "InvalidArgument" in table.stdout and "0 stored, 1 failed" in table.stdout
    both = podium(tmp_path, "events", "put", "--entries", "[]", "--source", "x")
    assert both.returncode == 1 and "--entries" in both.stderr + both.stdout
    neither = podium(tmp_path, "events", "put")
    assert neither.returncode == 1 and "--source" in neither.stderr + neither.stdout


def test_purge_deliveries_command(tmp_path: Path, podium) -> None:
    purged = podium(tmp_path, "--json", "events", "purge-deliveries", "--older-than", "7d")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout) == {"purged": 0}
    short = podium(tmp_path, "events", "purge-deliveries", "--older-than", "30s")
    assert short.returncode == 1 and "lease" in short.stderr + short.stdout
    bad = podium(tmp_path, "events", "purge-deliveries", "--older-than", "a week")
    assert bad.returncode == 1 and "--older-than" in bad.stderr + bad.stdout
