"""Run one EXPRESS execution in memory: only its start and its result touch the store.

The step function is driven exactly as the worker drives a STANDARD run, but the run state,
history, tasks and timers live in this function's variables. The execution row is leased
(`wake_at` doubles as the lease end) and the lease renewed while the run goes on; if the
process dies, the lease runs out and a worker runs the execution again from its start
(at-least-once, like AWS's asynchronous Express workflows).
"""

from __future__ import annotations

import heapq
import json
import queue
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from podium.asl.step import (
    CancelTask,
    Event,
    Finished,
    RunState,
    RunTask,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
    TimerFired,
    step,
)
from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.engine.models import RUNNING
from podium.engine.transitions import dumps, to_datetime
from podium.store.tables.engine import engine_executions

if TYPE_CHECKING:
    from podium.engine.service import Engine

LEASE_SECONDS = 30.0

# Built once: building a statement costs more than running it (a short EXPRESS run is a few).
_x = engine_executions
_STARTING = select(_x.c.input, _x.c.revision_id).where(_x.c.arn == bindparam("b_arn"))
_HELD = (_x.c.arn == bindparam("b_arn")) & (_x.c.lease_owner == bindparam("b_owner")) & (_x.c.status == RUNNING)
_RENEW = update(_x).where(_HELD).values(lease_expiry=bindparam("lease_expiry"), wake_at=bindparam("lease_expiry"))
_FINISH = update(_x).where(_HELD).values(
    status=bindparam("status"), output=bindparam("output"), error=bindparam("error"),
    cause=bindparam("cause"), stop_time=bindparam("stop_time"), wake_at=None, lease_owner=None,
    lease_expiry=None,
)


def run_express(
    engine: Engine, arn: str, owner: str, lease_seconds: float = LEASE_SECONDS,
    started: tuple[Any, str] | None = None,
) -> tuple[Finished, datetime] | None:
    """Run the leased EXPRESS execution `arn` to its end; returns how it ended and when.

    `started`: its input and revision id, when the caller has them (else they are read).
    Returns None when the lease was lost on the way (the execution was stopped, or another
    worker took it over after this one stalled): then nothing is written.
    """
    machine = engine.machines.peek(started[1]) if started is not None else None
    if machine is None:
        with engine.store.connect() as connection:
            if started is None:
                row = connection.execute(_STARTING, {"b_arn": arn}).mappings().one()
                started = (json.loads(row["input"]), row["revision_id"])
            machine = engine.machines.get(connection, started[1])
    assert started is not None
    payload = started[0]
    run_state = RunState()
    results: queue.SimpleQueue[tuple[str, TaskOutcome]] = queue.SimpleQueue()
    timers: list[tuple[float, str]] = []
    pending: set[str] = set()
    event: Event | None = engine.start_event(arn, payload, 0)
    renew_at = time.time() + lease_seconds / 3
    while True:
        if event is not None:
            result = step(machine, run_state, event, datetime.now(UTC))
            event = None
            for action in result.actions:
                if isinstance(action, RunTask):
                    if action.task_token is not None:
                        results.put((action.task_id, TaskOutcome(
                            error="States.Runtime",
                            cause="EXPRESS workflows do not support .waitForTaskToken; use STANDARD",
                        )))
                        continue
                    pending.add(action.task_id)
                    _submit(engine, arn, action, results)
                elif isinstance(action, StartTimer):
                    heapq.heappush(timers, (action.due.timestamp(), action.timer_id))
                elif isinstance(action, CancelTask):
                    pending.discard(action.task_id)
                elif isinstance(action, Finished):
                    return _finish(engine, arn, owner, action)
        now = time.time()
        if now >= renew_at:
            if not _renew(engine, arn, owner, lease_seconds):
                return None
            renew_at = now + lease_seconds / 3
        if timers and timers[0][0] <= now:
            event = TimerFired(heapq.heappop(timers)[1])
            continue
        wait = min(renew_at, timers[0][0] if timers else renew_at) - now
        try:
            task_id, outcome = results.get(timeout=max(0.0, wait))
        except queue.Empty:
            continue
        pending.discard(task_id)
        event = (
            TaskFailed(task_id, outcome.error, outcome.cause) if outcome.failed
            else TaskSucceeded(task_id, outcome.output)
        )


def _submit(
    engine: Engine, arn: str, action: RunTask, results: queue.SimpleQueue[tuple[str, TaskOutcome]]
) -> None:
    request = TaskRequest(
        execution_arn=arn, task_id=action.task_id, resource=action.resource, input=action.input,
        timeout_seconds=action.timeout_seconds,
    )
    future = engine.executor.submit(request)

    def done(finished: Future[TaskOutcome]) -> None:
        results.put((action.task_id, finished.result()))

    future.add_done_callback(done)


def _renew(engine: Engine, arn: str, owner: str, lease_seconds: float) -> bool:
    now = time.time()
    with engine.store.begin() as connection:
        return bool(connection.execute(_RENEW, {
            "b_arn": arn, "b_owner": owner, "lease_expiry": now + lease_seconds,
        }).rowcount)


def _finish(engine: Engine, arn: str, owner: str, finished: Finished) -> tuple[Finished, datetime] | None:
    stop_time = to_datetime(time.time())
    values: dict[str, Any] = {
        "b_arn": arn,
        "b_owner": owner,
        "status": finished.status,
        "output": dumps(finished.output) if finished.status == "SUCCEEDED" else None,
        "error": finished.error,
        "cause": finished.cause,
        "stop_time": stop_time,
    }
    with engine.store.begin() as connection:
        written = connection.execute(_FINISH, values).rowcount
    return (finished, stop_time) if written else None
