"""Worker processes for one model version: start, health-check, restart, drain and stop."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from podium.errors import PodiumError
from podium.serving.worker import extract

STARTUP_TIMEOUT = 60.0


class WorkerStartError(PodiumError):
    code = "ModelWorkerFailed"
    http_status = 503


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    in_flight: int = 0
    healthy: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.healthy and self.process.poll() is None


@dataclass
class Fleet:
    """`count` workers serving one model artifact; one fleet per variant per endpoint config."""

    artifact: Path
    workdir: Path
    count: int
    entry_point: Path | None = None
    workers: list[Worker] = field(default_factory=list)
    stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _turn: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def start(self) -> None:
        extract(self.artifact, self.workdir / "model")
        pending = [self._spawn() for _ in range(self.count)]
        for process in pending:
            self.workers.append(self._await_ready(process))

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "podium.serving.worker", "--artifact", str(self.artifact),
                   "--workdir", str(self.workdir / "model")]
        if self.entry_point:
            command += ["--entry-point", str(self.entry_point)]
        log = open(self.workdir / "worker.log", "ab")  # noqa: SIM115 (the child keeps it open)
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, start_new_session=True)

    def _await_ready(self, process: subprocess.Popen[bytes]) -> Worker:
        assert process.stdout is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        line = process.stdout.readline().decode().strip()
        if not line.startswith("READY "):
            process.kill()
            log_tail = (self.workdir / "worker.log").read_text(errors="replace")[-2000:]
            raise WorkerStartError(f"model worker for {self.artifact} did not start: {log_tail.strip()}")
        worker = Worker(process=process, port=int(line.split()[1]))
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{worker.url}/ping", timeout=2).status_code == 200:
                    return worker
            except httpx.HTTPError:
                time.sleep(0.05)
        process.kill()
        raise WorkerStartError(f"model worker for {self.artifact} failed its /ping health check")

    def pick(self, exclude: set[int] = frozenset()) -> Worker | None:  # type: ignore[assignment]
        """A live worker, least in-flight first, rotating among equals."""
        with self._lock:
            live = [w for w in self.workers if w.alive() and w.port not in exclude]
            if not live:
                return None
            offset = next(self._turn) % len(live)
            rotated = live[offset:] + live[:offset]
            return min(rotated, key=lambda w: w.in_flight)

    def in_flight(self) -> int:
        return sum(w.in_flight for w in self.workers)

    def replace_dead(self) -> int:
        """Restart workers whose process died; returns how many were restarted."""
        restarted = 0
        for index, worker in enumerate(list(self.workers)):
            if self.stopped:
                break
            if worker.process.poll() is not None or not worker.healthy:
                _kill(worker.process)
                try:
                    replacement = self._await_ready(self._spawn())
                except WorkerStartError:
                    continue
                with self._lock:
                    # The fleet may have been stopped (drained after a deployment) meanwhile.
                    keep = not self.stopped
                    if keep:
                        self.workers[index] = replacement
                if not keep:
                    _kill(replacement.process)
                    break
                restarted += 1
        return restarted

    def stop(self, drain_timeout: float = 30.0) -> None:
        """Wait for in-flight requests to finish (up to the timeout), then stop every worker."""
        deadline = time.monotonic() + drain_timeout
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.stopped = True
        for worker in self.workers:
            worker.healthy = False
            _kill(worker.process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    if process.stdout:
        process.stdout.close()
