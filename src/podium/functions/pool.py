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
- With `queue_depth` > 1, a non-blocking `start` that finds every process busy may queue its
  invocation behind up to `queue_depth - 1` others in a process's pipe (the engine's worker
  loop does: the process then never idles while the loop is in a transaction). A queued
  invocation counts against its function's concurrency, its timeout starts when the one
  before it has answered, and if a process dies or is killed the invocations queued behind
  the lost one (which never started) are sent again to a fresh process.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import random
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from podium.functions.errors import EXIT_ERROR, TIMEOUT, FunctionError
from podium.functions.protocol import OK, REPLY_HEADER, frame, reply_result, reply_rss_kb, write_all
from podium.functions.registry import FunctionSpec

# Bytes of requests that may sit in one process's pipe (queued invocations): below the pipe's
# 64 KiB, so queueing never blocks the sender, which must keep reading replies.
QUEUE_BYTES = 32 * 1024


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
        # Invocations sent and not yet answered, in the order the process runs them.
        self.pending: deque[Invocation] = deque()
        # Set while a blocking caller owns the process: nothing may queue behind its invocation.
        self.exclusive = False
        # Held while a reply is read, so two callers never split one message.
        self.reading = threading.Lock()
        # `ready()` saw a reply waiting to be read: the read that takes it need not poll again.
        self.readable = False
        # Deferred requests (`start(defer=True)`), written together by `FunctionPool.flush`.
        self.outbox: list[bytes] = []
        # Bytes read past the last whole reply (see `receive`).
        self._unread = b""
        # Registered once: Connection.poll builds a selector at every call (twice per call).
        self._replies = select.poll()
        self._replies.register(reply_read, select.POLLIN)

    def answered(self, timeout: float = 0.0) -> bool:
        """A reply can be read (or the process is gone: EOF) within `timeout` seconds."""
        if self._unread:
            return True
        return bool(self._replies.poll(min(math.ceil(timeout * 1000), 2**31 - 1) if timeout > 0 else 0))

    def receive(self, alone: bool) -> bytes:
        """The next reply (a frame's body; see `podium.functions.protocol`), waiting for
        it; EOFError when the process is gone.

        `alone`: it answers the only invocation sent, so nothing can follow it in the pipe and
        one `os.read` takes it whole. Otherwise the length is read first and then exactly the
        body: a reply left behind in this process's memory would not make the pipe readable
        for a caller waiting on `connection`. (Should one be read anyway, by a start on
        another thread racing this read, `answered` sees it.)"""
        fd = self.connection.fileno()
        data = self._unread
        while True:
            if len(data) >= 4:
                end = 4 + int.from_bytes(data[:4], "big")
                if len(data) >= end:
                    self._unread = data[end:]
                    return data[4:end]
                wanted = end - len(data)
            else:
                wanted = 4 - len(data)
            chunk = os.read(fd, max(wanted, 65536) if alone else wanted)
            if not chunk:
                self._unread = b""
                raise EOFError
            data += chunk

    def send(self, message: bytes) -> None:
        """Write one request (framed: `Invocation.message`)."""
        self._write(message)

    def send_outbox(self) -> None:
        """Write the deferred requests (framed already) in one system call: one wake-up of the
        process."""
        data = b"".join(self.outbox)
        self.outbox.clear()
        self._write(data)

    def _write(self, data: bytes) -> None:
        # fileno(): OSError once closed (killed), rather than writing to a reused descriptor.
        write_all(self._requests.fileno(), data)

    def idle_and_alive(self) -> bool:
        """For an idle process (nothing sent): it is still running. Its reply pipe stays quiet
        until it dies (EOF); the process is asked too, because a grandchild a handler forked
        may hold the pipe open after the process itself is gone."""
        return not self.answered() and self.process.poll() is None

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


def new_request_id() -> str:
    """A random (version 4) UUID as text, as `str(uuid.uuid4())` gives, in a fraction of its
    time (it is made for every invocation). From `random`, not `os.urandom`: no system call,
    and a request id is a label, not a secret."""
    digits = f"{random.getrandbits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


class Invocation:
    """One invocation in flight (see `FunctionPool.start`)."""

    __slots__ = ("abandoned", "deadline", "limit", "message", "released", "reply", "spec", "timeout", "worker")

    def __init__(
        self, spec: FunctionSpec, worker: _Worker, deadline: float, timeout: float,
        limit: threading.BoundedSemaphore | None,
    ) -> None:
        self.spec = spec
        self.worker = worker
        # time.monotonic(); infinite while queued behind another invocation (its timeout
        # starts when that one has answered).
        self.deadline = deadline
        self.timeout = timeout
        self.limit = limit
        self.released = False
        self.abandoned = False
        # The request, framed as it goes down the pipe (see `podium.functions.protocol`).
        self.message = b""
        self.reply: Any = None

    @property
    def connection(self) -> Connection:
        """Readable when the reply arrives or the process dies."""
        return self.worker.connection


class FunctionPool:
    """Runs `FunctionSpec` invocations in up to `size` reusable subprocesses."""

    def __init__(self, size: int = 4, *, extra_paths: list[str] | None = None, queue_depth: int = 1) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        if queue_depth < 1:
            raise ValueError("queue_depth must be >= 1")
        self.size = size
        self.queue_depth = queue_depth
        self._extra_paths = list(extra_paths or [])
        self._idle: list[_Worker] = []
        # Busy processes running non-blocking callers' invocations: more may queue behind them.
        self._shared: list[_Worker] = []
        self._lock = threading.Lock()
        # Processes not busy (a busy one holds a slot; queued invocations ride on its): a count
        # under `_lock` rather than a semaphore, whose Python-level condition costs a lock
        # round of its own on every start and reply. Blocking callers wait on `_freed`.
        self._free = size
        self._freed = threading.Condition(self._lock)
        self._function_slots: dict[str, threading.BoundedSemaphore] = {}
        # Blocking callers waiting for a process: nothing is queued meanwhile, so the busy
        # processes drain and one of them gets free (a queue refilled forever would starve them).
        self._waiting = 0
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
        defer: bool = False,
    ) -> Invocation | None:
        """Send an invocation to a worker process and return at once; `result()` collects it.

        With `defer` (non-blocking callers only), the request is held until `flush()`, which
        writes each process's deferred requests at once: a caller starting many calls wakes
        each process once. It must call `flush()` before waiting for any of them.

        Without `block`, returns None when no slot is free now (the pool's size or the
        function's concurrency is used up, and no process has room in its queue) instead of
        waiting for one. The returned Invocation's `connection` becomes readable when a reply
        (or the process's death) arrives; with queued invocations a reply is the first
        unanswered one's, so a caller collects an invocation once `ready()` says so.
        """
        timeout = spec.timeout_seconds if timeout_seconds is None else min(
            timeout_seconds, spec.timeout_seconds
        )
        limit = self._function_slot(spec) if spec.concurrency is not None else None
        if limit is not None and not limit.acquire(blocking=block):
            return None
        invocation = Invocation(spec, None, time.monotonic() + timeout, timeout, limit)  # type: ignore[arg-type]
        # A request (see `podium.functions.protocol`): plain data, the C pickler.
        invocation.message = frame(pickle.dumps(
            (spec.target, event, request_id or new_request_id(), timeout, spec.name, spec.arn, spec.memory_mb),
            pickle.HIGHEST_PROTOCOL,
        ))
        defer = defer and not block
        try:
            worker = self._checkout(block=False)
            if worker is None:
                if not block:
                    if self.queue_depth > 1 and self._enqueue(invocation, defer):
                        return invocation
                    self._release_limit(invocation)
                    return None
                worker = self._checkout(block=True)
        except BaseException:
            self._release_limit(invocation)
            raise
        assert worker is not None
        invocation.worker = worker
        worker.exclusive = block
        if defer:
            with self._lock:
                worker.pending.append(invocation)
                worker.outbox.append(invocation.message)
                self._shared.append(worker)
            return invocation
        worker.pending.append(invocation)
        try:
            worker.send(invocation.message)
        except (OSError, ValueError) as exc:
            worker.kill()
            worker.pending.clear()
            self._release_limit(invocation)
            self._release_slot()
            raise FunctionError(EXIT_ERROR, f"Runtime exited before the invocation: {exc}") from None
        if not block:
            # Only now: an invocation queued behind this one must reach the pipe after it.
            with self._lock:
                self._shared.append(worker)
        return invocation

    def ready(self, invocation: Invocation, readable: bool | None = None) -> bool:
        """True when `result(invocation)` returns without waiting: its reply (or its process's
        death) has arrived, or its deadline passed. Cheap; for loops that poll many.

        `readable`: whether the caller has just polled `invocation.connection` readable, from
        a poll made after its last `result()` on that process (say, in the same pass over
        ready calls); spares polling it again. None: unknown, ready() polls."""
        if invocation.reply is not None:
            return True
        worker = invocation.worker
        try:
            first = worker.pending[0]
        except IndexError:  # answered meanwhile by another reader
            return invocation.reply is not None
        if first is not invocation:
            # Behind an abandoned call, whose reply nobody else will read: result() drops it.
            return first.abandoned and worker.answered() and list(worker.pending)[1:2] == [invocation]
        if invocation.deadline <= time.monotonic():
            return True
        if readable is None:
            readable = worker.answered()
        elif not readable:
            readable = bool(worker._unread)  # read along with an earlier reply: see `receive`
        if readable:
            worker.readable = True
        return readable

    def result(self, invocation: Invocation) -> Any:
        """Wait (until the invocation's deadline at most) for its result, or raise FunctionError.

        Past the deadline the process is killed and the invocation is `States.Timeout`.
        Replies of invocations queued before it in the same process are read first (and kept
        for their own `result`).
        """
        while invocation.reply is None:
            worker = invocation.worker
            with worker.reading:
                if invocation.reply is not None or worker is not invocation.worker:
                    continue  # answered, or sent again to a fresh process, meanwhile
                if not worker.pending:  # abandoned: its process is gone
                    invocation.reply = FunctionError(EXIT_ERROR, f"function {invocation.spec.name!r}: abandoned")
                    break
                self._read_first(worker)
        reply = invocation.reply
        if isinstance(reply, FunctionError):
            raise reply
        if reply[0] == OK:
            return reply_result(reply)
        raise FunctionError(*pickle.loads(reply[REPLY_HEADER:]))

    def abandon(self, invocation: Invocation) -> None:
        """Give up on an invocation without its result; its process is killed once nothing else
        is queued in it (otherwise its reply is dropped when it comes)."""
        if invocation.reply is not None:
            return  # it has ended already
        invocation.abandoned = True
        self._release_limit(invocation)
        worker = invocation.worker
        with self._lock:
            if not all(queued.abandoned for queued in worker.pending):
                return
            owned = bool(worker.pending)
            worker.pending.clear()
            worker.outbox.clear()
            if worker in self._shared:
                self._shared.remove(worker)
        worker.kill()
        if owned:
            self._release_slot()

    def flush(self) -> None:
        """Write the requests `start(defer=True)` held back."""
        with self._lock:
            for worker in self._shared:
                if worker.outbox:
                    # A dead process: its first invocation fails and the rest are sent again.
                    with contextlib.suppress(OSError, ValueError):
                        worker.send_outbox()

    def _enqueue(self, invocation: Invocation, defer: bool) -> bool:
        """Queue `invocation` behind the shortest queue that has room; False if none has."""
        size = len(invocation.message)
        with self._lock:
            if self._waiting:
                return False
            target = None
            for worker in self._shared:
                queued = len(worker.pending)
                if (queued < self.queue_depth and (target is None or queued < len(target.pending))
                        and sum(len(i.message) for i in worker.pending) + size <= QUEUE_BYTES):
                    target = worker
            if target is None:
                return False
            invocation.worker = target
            invocation.deadline = math.inf
            target.pending.append(invocation)
            target.outbox.append(invocation.message)
            if not defer:
                # Under the lock, so queue order is pipe order; QUEUE_BYTES keeps it from blocking.
                with contextlib.suppress(OSError, ValueError):
                    # A dead process: its first invocation fails and this one is sent again.
                    target.send_outbox()
        return True

    def _read_first(self, worker: _Worker) -> None:
        """Read the reply of `worker`'s first unanswered invocation into its `reply` (waiting up
        to its deadline); a process that timed out, died or outgrew its memory is replaced."""
        first = worker.pending[0]
        reply: Any
        lost = True
        readable, worker.readable = worker.readable, False
        if not readable and not worker.answered(first.deadline - time.monotonic()):
            reply = FunctionError(TIMEOUT, f"function {first.spec.name!r} timed out after {first.timeout:g} seconds")
        else:
            try:
                reply = worker.receive(alone=len(worker.pending) == 1)
            except (EOFError, OSError):
                reply = FunctionError(EXIT_ERROR, f"function {first.spec.name!r}: {worker.exit_description()}")
            else:
                worker.invocations += 1
                # A leak stops here: later invocations get a fresh process.
                lost = reply_rss_kb(reply) > first.spec.memory_mb * 1024
        self._release_limit(first)
        if lost:
            with self._lock:
                worker.pending.popleft()
                first.reply = reply
            self._replace(worker)
            return
        # `worker` answered: start its next invocation's clock, or check it in, idle.
        with self._lock:
            worker.pending.popleft()
            first.reply = reply
            if worker.pending:
                following = worker.pending[0]
                if following.deadline == math.inf:
                    following.deadline = time.monotonic() + following.timeout
                return
            if worker in self._shared:
                self._shared.remove(worker)
            worker.exclusive = False
            closed = self._closed
            if not closed:
                self._idle.append(worker)
            # With the check-in: whoever takes the slot next finds the process idle.
            self._free += 1
            if self._waiting:
                self._freed.notify()
        if closed:
            worker.kill()

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker`; the invocations queued in it (never started) go to a fresh process."""
        worker.kill()
        with self._lock:
            rest = [queued for queued in worker.pending if not queued.abandoned]
            worker.pending.clear()
            worker.outbox.clear()
            if worker in self._shared:
                self._shared.remove(worker)
            if not rest or self._closed:
                for queued in rest:
                    queued.reply = FunctionError(EXIT_ERROR, "the function pool is closed")
                    self._release_limit(queued)
                rest = []
        if not rest:
            self._release_slot()
            return
        fresh = _Worker(self._extra_paths)
        rest[0].deadline = time.monotonic() + rest[0].timeout
        with self._lock:
            for queued in rest:
                queued.worker = fresh
                fresh.pending.append(queued)
                with contextlib.suppress(OSError, ValueError):
                    fresh.send(queued.message)
            self._shared.append(fresh)

    def _release_slot(self) -> None:
        with self._lock:
            self._free += 1
            if self._waiting:
                self._freed.notify()

    def _release_limit(self, invocation: Invocation) -> None:
        if invocation.released:
            return
        invocation.released = True
        if invocation.limit is not None:
            invocation.limit.release()

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

    def _checkout(self, block: bool) -> _Worker | None:
        """Take a free slot and a process for it (an idle one, else a new one); without
        `block`, None when no slot is free now."""
        with self._lock:
            if not self._free:
                if not block:
                    return None
                self._waiting += 1
                try:
                    while not self._free:
                        self._freed.wait()
                finally:
                    self._waiting -= 1
            if self._closed:
                if self._waiting:
                    self._freed.notify()
                raise FunctionError(EXIT_ERROR, "the function pool is closed")
            self._free -= 1
            while self._idle:
                worker = self._idle.pop()
                if worker.idle_and_alive():
                    return worker
                worker.kill()
        try:
            return _Worker(self._extra_paths)
        except BaseException:
            self._release_slot()
            raise
