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
from podium.serving.frames import parse_printable
from podium.serving.worker import extract

STARTUP_TIMEOUT = 60.0


class WorkerStartError(PodiumError):
    code = "ModelWorkerFailed"
    http_status = 503


@dataclass(eq=False)  # compared by identity: a fleet's list holds each worker once
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    socket: str | None = None  # the frame transport's Unix socket (podium.serving.frames), if any
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
        self.grow(self.count)

    def grow(self, target: int) -> int:
        """Start workers until the fleet has `target`; each takes traffic once its /ping answers.
        If one fails to start, those started by this call are stopped and the error raised."""
        with self._lock:
            missing = target - len(self.workers)
        if missing <= 0:
            return 0
        pending = [self._spawn() for _ in range(missing)]
        started: list[Worker] = []
        try:
            for process in pending:
                started.append(self._await_ready(process))
        except BaseException:
            for process in pending:
                _kill(process)
            raise
        with self._lock:
            keep = not self.stopped
            if keep:
                self.workers = self.workers + started
                self.count = len(self.workers)
        if not keep:
            for worker in started:
                _kill(worker.process)
            raise WorkerStartError(f"fleet for {self.artifact} was stopped while it grew")
        return len(started)

    def shrink(self, target: int, drain_timeout: float) -> int:
        """Stop workers beyond `target` (dead ones first): they take no new request at once,
        finish the ones in flight (up to `drain_timeout`), then stop. Returns how many."""
        with self._lock:
            ordered = sorted(self.workers, key=lambda w: w.alive(), reverse=True)
            kept, leaving = ordered[:max(0, target)], ordered[max(0, target):]
            self.workers = [w for w in self.workers if w in kept]
            self.count = len(self.workers)
        deadline = time.monotonic() + drain_timeout
        while any(w.in_flight for w in leaving) and time.monotonic() < deadline:
            time.sleep(0.01)
        for worker in leaving:
            worker.healthy = False
            _kill(worker.process)
        return len(leaving)

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
        fields = line.split()
        worker = Worker(process=process, port=int(fields[1]),
                        socket=parse_printable(fields[2]) if len(fields) > 2 else None)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{worker.url}/ping", timeout=2).status_code == 200:
                    return worker
            except httpx.HTTPError:
                time.sleep(0.05)
        process.kill()
        raise WorkerStartError(f"model worker for {self.artifact} failed its /ping health check")

    def pick(self, exclude: set[int] = frozenset()) -> Worker | None:  # type: ignore[assignment]
        """A live worker, least in-flight first, rotating among equals, with its in-flight count
        already raised (under the lock, so `shrink` cannot stop it before the request is sent).
        The caller lowers it when the request is done."""
        with self._lock:
            if self.stopped:
                return None
            # `returncode`, not `alive()`: no waitpid per request. A worker that died since the
            # supervisor last looked fails its request with a connection error, and the router
            # then marks it and tries another.
            live = [w for w in self.workers
                    if w.healthy and w.process.returncode is None and w.port not in exclude]
            if not live:
                return None
            if len(live) == 1:
                chosen = live[0]
            else:
                offset = next(self._turn) % len(live)
                chosen = min(live[offset:] + live[:offset], key=lambda w: w.in_flight)
            chosen.in_flight += 1
            return chosen

    def in_flight(self) -> int:
        return sum(w.in_flight for w in self.workers)

    def replace_dead(self) -> int:
        """Restart workers whose process died; returns how many were restarted."""
        restarted = 0
        with self._lock:
            current = list(self.workers)
        for worker in current:
            if self.stopped:
                break
            if worker.process.poll() is not None or not worker.healthy:
                _kill(worker.process)
                try:
                    replacement = self._await_ready(self._spawn())
                except WorkerStartError:
                    continue
                with self._lock:
                    # The fleet may have been stopped (drained after a deployment), or this
                    # worker retired by a rolling update, meanwhile.
                    keep = not self.stopped and worker in self.workers
                    if keep:
                        self.workers[self.workers.index(worker)] = replacement
                if not keep:
                    _kill(replacement.process)
                    break
                restarted += 1
        return restarted

    def stop(self, drain_timeout: float = 30.0) -> None:
        """Take no new request, wait for those in flight to finish (up to the timeout), then
        stop every worker. A request picking a worker after this is rerouted by the router."""
        with self._lock:
            self.stopped = True
        deadline = time.monotonic() + drain_timeout
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.01)
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
