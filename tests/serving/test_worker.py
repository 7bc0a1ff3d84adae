"""The model worker process on its own: it stops when the process that started it is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# A parent that starts a worker, prints the worker's pid once it is ready, then waits forever.
PARENT = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-m", "podium.serving.worker", "--artifact", sys.argv[1],
                           "--workdir", sys.argv[2]], stdout=subprocess.PIPE, start_new_session=True)
line = worker.stdout.readline().decode()
assert line.startswith("READY"), line
print(worker.pid, flush=True)
import time
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_exits_when_its_parent_is_killed(good_model: Path, tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(good_model), str(tmp_path / "work")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker_pid = int(parent.stdout.readline())
        assert _alive(worker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 60
        while _alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker_pid), "the model worker outlived the process that started it"
    finally:
        parent.kill()
        with contextlib.suppress(ProcessLookupError, UnboundLocalError):
            os.kill(worker_pid, signal.SIGKILL)
