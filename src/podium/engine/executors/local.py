"""The local executor: performs Task calls on this machine.

`submit` runs a call on a thread pool: threads suit what a registered resource does (I/O,
waiting on a service). A function call needs no thread at all: the FunctionPool runs it in a
subprocess, so `start` sends it there and returns a pending call whose pipe the caller (the
worker's loop) waits on together with everything else — no thread hand-offs on a Task's
path. An execution in a Wait state or waiting for a callback token holds neither.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.engine.resources import BUSY, PendingCall, ResourceRouter


class LocalExecutor:
    """Runs each request through `router` on one of `max_threads` threads."""

    def __init__(self, router: ResourceRouter, max_threads: int = 32) -> None:
        self.router = router
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="podium-task")

    def submit(self, request: TaskRequest) -> Future[TaskOutcome]:
        return self._pool.submit(self.router.run, request)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def start(self, request: TaskRequest) -> TaskOutcome | PendingCall | object | None:
        """Start a function call without a thread (see `ResourceRouter.start`): a TaskOutcome,
        a PendingCall to `finish` when its `connection` is readable, BUSY, or None when the
        request needs `submit`. The call is sent at the next `flush()`, so a batch of calls
        wakes each function process once."""
        return self.router.start(request, defer=True)

    def flush(self) -> None:
        self.router.flush()

    def finish(self, call: PendingCall) -> TaskOutcome:
        return self.router.finish(call)

    def ready(self, call: PendingCall, readable: bool | None = None) -> bool:
        return self.router.ready(call, readable)

    def abandon(self, call: PendingCall) -> None:
        self.router.abandon(call)


__all__ = ["BUSY", "LocalExecutor", "PendingCall"]
