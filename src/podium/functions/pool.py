"""A pool of reusable worker subprocesses that run function invocations, one at a time each.

Guarantees:
- An invocation runs in a child process, never in the caller's: a handler that raises, hangs,
  calls `os._exit`, segfaults or leaks memory cannot take the caller down.
- A hung invocation is abandoned at its timeout: its process is killed and replaced, and the
  caller gets `States.Timeout`. A process that dies mid-invocation gives `Runtime.ExitError`.
- A process is reused for later invocations (imports stay warm) unless it timed out, died, or
  its peak RSS grew past the function's `memory_mb`; then it is retired and a fresh one started.
- At most `size` invocations run at once overall, and at most `spec.concurrency` of one function;
  callers beyond that wait for a slot (they are not rejected).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

from podium.functions.errors import EXIT_ERROR, TIMEOUT, FunctionError
from podium.functions.registry import FunctionSpec


class _Worker:
    """One child `python -m podium.functions.runtime`, talking over two inherited pipes.

    A fresh interpreter rather than fork (the engine holds threads and database connections a
    forked child would inherit half-made) and rather than multiprocessing's spawn (which
    re-imports the caller's `__main__`, e.g. the whole CLI, in every child).
    """

    def __init__(self, extra_paths: list[str]) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        env = dict(os.environ)
        # The child sees the caller's import path, so a handler importable here imports there.
        paths = [*extra_paths, *(path or os.getcwd() for path in sys.path)]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "podium.functions.runtime", str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(request_read)
        os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self.connection = Connection(reply_read, writable=False)
        self.invocations = 0

    def send(self, message: Any) -> None:
        # Plain data (names, JSON values): the C pickler, not multiprocessing's ForkingPickler
        # (a Python subclass with its own reducer table); `recv` on the other end reads either.
        self._requests.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self._requests.close()
        self.connection.close()

    def exit_description(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            return "Runtime exited without providing a reason"
        if code < 0:
            try:
                name = signal.Signals(-code).name.removeprefix("SIG").lower()
            except ValueError:
                name = str(-code)
            return f"Runtime exited with error: signal: {name}"
        return f"Runtime exited with error: exit status {code}"


class Invocation:
    """One invocation in flight (see `FunctionPool.start`)."""

    __slots__ = ("deadline", "limit", "released", "spec", "timeout", "worker")

    def __init__(
        self, spec: FunctionSpec, worker: _Worker, deadline: float, timeout: float,
        limit: threading.BoundedSemaphore | None,
    ) -> None:
        self.spec = spec
        self.worker = worker
        self.deadline = deadline  # time.monotonic()
        self.timeout = timeout
        self.limit = limit
        self.released = False

    @property
    def connection(self) -> Connection:
        """Readable when the reply arrives or the process dies."""
        return self.worker.connection


class FunctionPool:
    """Runs `FunctionSpec` invocations in up to `size` reusable subprocesses."""

    def __init__(self, size: int = 4, *, extra_paths: list[str] | None = None) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self._extra_paths = list(extra_paths or [])
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._function_slots: dict[str, threading.BoundedSemaphore] = {}
        self._closed = False

    def invoke(
        self,
        spec: FunctionSpec,
        event: Any,
        *,
        request_id: str | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """Run `spec` on `event` and return its (JSON) result, or raise FunctionError."""
        invocation = self.start(spec, event, request_id=request_id, timeout_seconds=timeout_seconds)
        assert invocation is not None  # a blocking start always gets a slot
        return self.result(invocation)

    def start(
        self,
        spec: FunctionSpec,
        event: Any,
        *,
        request_id: str | None = None,
        timeout_seconds: float | None = None,
        block: bool = True,
    ) -> Invocation | None:
        """Send an invocation to a worker process and return at once; `result()` collects it.

        Without `block`, returns None when no slot is free now (the pool's size or the
        function's concurrency is used up) instead of waiting for one. The returned
        Invocation's `connection` becomes readable when the reply (or the process's death)
        arrives, so a caller can wait on many with `multiprocessing.connection.wait`.
        """
        timeout = spec.timeout_seconds if timeout_seconds is None else min(
            timeout_seconds, spec.timeout_seconds
        )
        limit = self._function_slot(spec)
        if not self._slots.acquire(blocking=block):
            return None
        if limit is not None and not limit.acquire(blocking=block):
            self._slots.release()
            return None
        invocation = Invocation(spec, None, time.monotonic() + timeout, timeout, limit)  # type: ignore[arg-type]
        try:
            invocation.worker = self._checkout()
        except BaseException:
            self._release(invocation)
            raise
        context = {
            "function_name": spec.name,
            "invoked_function_arn": spec.arn,
            "memory_limit_in_mb": spec.memory_mb,
            "aws_request_id": request_id or str(uuid.uuid4()),
            "deadline": time.time() + timeout,
        }
        try:
            invocation.worker.send((spec.target, event, context))
        except (OSError, ValueError) as exc:
            invocation.worker.kill()
            self._release(invocation)
            raise FunctionError(EXIT_ERROR, f"Runtime exited before the invocation: {exc}") from None
        return invocation

    def result(self, invocation: Invocation) -> Any:
        """Wait (until the invocation's deadline at most) for its result, or raise FunctionError.

        Past the deadline the process is killed and the invocation is `States.Timeout`.
        """
        worker, spec = invocation.worker, invocation.spec
        try:
            if not worker.connection.poll(max(0.0, invocation.deadline - time.monotonic())):
                worker.kill()
                raise FunctionError(
                    TIMEOUT, f"function {spec.name!r} timed out after {invocation.timeout:g} seconds"
                )
            try:
                reply = worker.connection.recv()
            except (EOFError, OSError):
                description = worker.exit_description()
                worker.kill()
                raise FunctionError(EXIT_ERROR, f"function {spec.name!r}: {description}") from None
            worker.invocations += 1
            max_rss_kb = reply[-1]
            if max_rss_kb > spec.memory_mb * 1024:
                worker.kill()  # a leak stops here: the next invocation gets a fresh process
            else:
                self._checkin(worker)
        finally:
            # After the check-in: whoever takes the slot next finds the process idle.
            self._release(invocation)
        if reply[0] == "ok":
            return json.loads(reply[1])
        raise FunctionError(reply[1], reply[2], reply[3])

    def abandon(self, invocation: Invocation) -> None:
        """Give up on an invocation without its result: its process is killed."""
        invocation.worker.kill()
        self._release(invocation)

    def _release(self, invocation: Invocation) -> None:
        if invocation.released:
            return
        invocation.released = True
        if invocation.limit is not None:
            invocation.limit.release()
        self._slots.release()

    def warm(self, count: int | None = None) -> None:
        """Start `count` (default: size) processes now rather than on first use."""
        started = [_Worker(self._extra_paths) for _ in range(count or self.size)]
        with self._lock:
            self._idle.extend(started)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def __enter__(self) -> FunctionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _function_slot(self, spec: FunctionSpec) -> threading.BoundedSemaphore | None:
        if spec.concurrency is None:
            return None
        with self._lock:
            slot = self._function_slots.get(spec.name)
            if slot is None:
                slot = threading.BoundedSemaphore(spec.concurrency)
                self._function_slots[spec.name] = slot
            return slot

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise FunctionError(EXIT_ERROR, "the function pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker(self._extra_paths)

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.kill()
