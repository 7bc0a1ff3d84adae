"""`podium stream` as a user runs it (subprocesses against a temporary PODIUM_HOME)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def podium(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env["PODIUM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "podium.cli.main", *args],
        cwd=home.parent, env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_create_put_tail_describe(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert podium(home, "stream", "create", "clicks", "--shards", "2").returncode == 0
    put = podium(home, "--json", "stream", "put", "clicks", "--key", "u1", stdin="a\nb\nc\n")
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["written"] == 3
    tail = podium(home, "--json", "stream", "tail", "clicks", "--from", "TRIM_HORIZON", "--no-follow")
    assert tail.returncode == 0, tail.stderr
    rows = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [r["data"] for r in rows] == ["a", "b", "c"] and {r["partition_key"] for r in rows} == {"u1"}
    described = json.loads(podium(home, "--json", "stream", "describe", "clicks").stdout)
    assert [s["ShardId"] for s in described["shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    missing = podium(home, "stream", "put", "nope", "-k", "x", "-d", "y")
    assert missing.returncode == 1 and "error [ResourceNotFound]" in missing.stderr


def test_fan_out_consumers_register_list_deregister(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert podium(home, "stream", "create", "clicks").returncode == 0
    registered = podium(home, "--json", "stream", "register-consumer", "clicks", "dashboard")
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["ConsumerName"] == "dashboard"
    twice = podium(home, "stream", "register-consumer", "clicks", "dashboard")
    assert twice.returncode == 1 and "dashboard" in twice.stderr
    listed = json.loads(podium(home, "--json", "stream", "consumers", "clicks").stdout)
    assert [c["ConsumerName"] for c in listed] == ["dashboard"]
    assert podium(home, "stream", "deregister-consumer", "clicks", "dashboard").returncode == 0
    assert json.loads(podium(home, "--json", "stream", "consumers", "clicks").stdout) == []
