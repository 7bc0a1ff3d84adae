"""The local executor: a thread pool that performs Task calls on this machine.

Threads suit what a Task mostly does here: wait on a function subprocess (the FunctionPool
isolates the function itself in a process) or on I/O. A thread is used only while a call is
in flight; an execution in a Wait state or waiting for a callback token holds none.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.engine.resources import ResourceRouter


class LocalExecutor:
    """Runs each request through `router` on one of `max_threads` threads."""

    def __init__(self, router: ResourceRouter, max_threads: int = 32) -> None:
        self.router = router
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="podium-task")

    def submit(self, request: TaskRequest) -> Future[TaskOutcome]:
        return self._pool.submit(self.router.run, request)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
