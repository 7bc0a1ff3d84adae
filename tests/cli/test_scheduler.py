"""`podium scheduler` as a process: fires a schedule into a workflow and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from podium.config import Settings
from podium.engine import Engine
from podium.store import open_store
from podium.triggers.scheduler import Scheduler

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "ok", "End": True}}}


def test_scheduler_process_starts_the_workflow_target_and_stops_on_sigterm(tmp_path):
    home = tmp_path / ".podium"
    store = open_store(Settings.for_home(home))
    engine = Engine(Settings.for_home(home), store)
    engine.create_state_machine("ingest", PASS)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    Scheduler(store).create("once", f"at({due:%Y-%m-%dT%H:%M:%S})", "workflow:ingest", input={"day": "d"})
    process = subprocess.Popen(
        [sys.executable, "-m", "podium.cli.main", "scheduler", "--interval", "0.2"],
        cwd=tmp_path, env={**os.environ, "PODIUM_HOME": str(home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 30
        executions: list = []
        while time.time() < deadline and not executions:
            executions = engine.list_executions("ingest").items
            time.sleep(0.1)
        assert [(e.status, e.input) for e in executions] == [("SUCCEEDED", {"day": "d"})]
        stopping = time.time()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert time.time() - stopping < 3.0
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        engine.close()
