"""The durable core: apply events to one STANDARD execution inside the caller's transaction.

`advance` feeds events to `podium.asl.step.step` and writes, in the transaction it is given,
everything the step produced: the new run state, its history events, the tasks to run, the
timers to set, the tasks cancelled and, when the run is over, its status and output. Callers
(the worker, StartExecution, StopExecution, SendTask*) hold the execution's row lock, so one
transition is all-or-nothing: after a crash the execution is exactly at its last committed
transition and nothing that completed is ever entered again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, select, update

from podium.asl.definition import StateMachine, compile_definition
from podium.asl.step import (
    CancelTask,
    Event,
    Finished,
    RunState,
    RunTask,
    StartTimer,
    step,
)
from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.engine.models import RUNNING
from podium.errors import NotFoundError
from podium.store.tables.engine import (
    engine_executions,
    engine_history,
    engine_revisions,
    engine_task_attempts,
    engine_tasks,
    engine_timers,
)

OPEN_TASK_STATUSES = ("SCHEDULED", "RUNNING", "WAITING")
WAIT_FOR_TOKEN = ".waitForTaskToken"

# The statements of the hot path are built once, with bound parameters: building a SQLAlchemy
# expression costs more than running it on SQLite, and a reused statement is compiled once.
_tasks, _executions, _timers, _attempts = engine_tasks, engine_executions, engine_timers, engine_task_attempts
INSERT_HISTORY = insert(engine_history)
INSERT_TASKS = insert(_tasks)
INSERT_ATTEMPTS = insert(_attempts)
INSERT_TIMERS = insert(_timers)
NEXT_WAKE = select(func.min(_timers.c.due)).where(_timers.c.execution_arn == bindparam("b_arn"))
DELETE_TIMERS = delete(_timers).where(_timers.c.execution_arn == bindparam("b_arn"))
_OPEN_TASKS = (_tasks.c.execution_arn == bindparam("b_arn")) & _tasks.c.status.in_(OPEN_TASK_STATUSES)
_CANCEL_VALUES: dict[str, Any] = {"status": "CANCELLED", "finished_at": bindparam("b_now"), "lease_owner": None}
CANCEL_ALL_TASKS = update(_tasks).where(_OPEN_TASKS).values(**_CANCEL_VALUES)
CANCEL_SOME_TASKS = update(_tasks).where(
    _OPEN_TASKS & _tasks.c.task_id.in_(bindparam("b_tasks", expanding=True))
).values(**_CANCEL_VALUES)
# wake_at is the earliest due timer, computed in the same statement (one round trip less).
UPDATE_RUN = update(_executions).where(_executions.c.arn == bindparam("b_arn")).values(
    run_state=bindparam("run_state"), event_count=bindparam("event_count"),
    wake_at=select(func.min(_timers.c.due)).where(_timers.c.execution_arn == _executions.c.arn)
    .scalar_subquery(),
)
UPDATE_ENDED = update(_executions).where(_executions.c.arn == bindparam("b_arn")).values(
    run_state=bindparam("run_state"), event_count=bindparam("event_count"), wake_at=None,
    status=bindparam("status"), output=bindparam("output"), error=bindparam("error"),
    cause=bindparam("cause"), stop_time=bindparam("stop_time"),
    redrive_state=bindparam("redrive_state"),
)
CLOSE_TASK = update(_tasks).where(
    (_tasks.c.execution_arn == bindparam("b_arn")) & (_tasks.c.task_id == bindparam("b_task"))
    & _tasks.c.status.in_(bindparam("b_accept", expanding=True))
).values(
    status=bindparam("status"), lease_owner=None, lease_expiry=None,
    finished_at=bindparam("finished_at"),
)
CLOSE_ATTEMPT = update(_attempts).where(
    (_attempts.c.execution_arn == bindparam("b_arn")) & (_attempts.c.task_id == bindparam("b_task"))
    & (_attempts.c.attempt == bindparam("b_attempt"))
).values(
    status=bindparam("status"), finished_at=bindparam("finished_at"),
    error=bindparam("error"), cause=bindparam("cause"),
)
LOCK_EXECUTION = select(
    _executions.c.arn, _executions.c.status, _executions.c.type, _executions.c.run_state,
    _executions.c.revision_id, _executions.c.redrive_state, _executions.c.redrive_count,
    _executions.c.event_count,
).where(_executions.c.arn == bindparam("b_arn")).with_for_update()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class MachineCache:
    """Compiled state machines by revision id: a definition is compiled once per process."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._machines: OrderedDict[str, StateMachine] = OrderedDict()

    def get(self, connection: Connection, revision_id: str) -> StateMachine:
        machine = self._machines.get(revision_id)
        if machine is not None:
            self._machines.move_to_end(revision_id)
            return machine
        text = connection.execute(
            select(engine_revisions.c.definition).where(engine_revisions.c.revision_id == revision_id)
        ).scalar_one_or_none()
        if text is None:
            raise NotFoundError(f"state machine revision {revision_id} does not exist")
        machine = compile_definition(json.loads(text))
        self._machines[revision_id] = machine
        if len(self._machines) > self._size:
            self._machines.popitem(last=False)
        return machine


@dataclass
class Transition:
    """What one `advance` did: tasks claimed for the caller to run, and the end, if reached."""

    dispatch: list[TaskRequest]
    finished: Finished | None


def advance(
    connection: Connection,
    machine: StateMachine,
    arn: str,
    run_state_text: str | None,
    events: Sequence[Event],
    now: float,
    *,
    claim_for: str | None = None,
    lease_seconds: float = 30.0,
    claim_limit: int | None = None,
) -> Transition:
    """Apply `events` in order and persist the result; the row of `arn` must be locked by the caller.

    With `claim_for` (a worker id), tasks the step asks for are claimed by that worker at once
    (status RUNNING, attempt 1, leased) and returned for it to submit after commit; without it
    they are left SCHEDULED for any worker to claim. `claim_limit` caps how many are claimed
    (the worker's free capacity); the rest stay SCHEDULED.
    """
    run_state = RunState.from_json(json.loads(run_state_text)) if run_state_text else RunState()
    moment = to_datetime(now)
    history: list[Mapping[str, Any]] = []
    tasks: list[RunTask] = []
    timers: dict[str, float] = {}
    cancelled: list[str] = []
    finished: Finished | None = None
    before_last_step = run_state_text
    for index, event in enumerate(events):
        try:
            result = step(machine, run_state, event, moment)
        except Exception as exc:  # an interpreter bug must fail this execution, not the worker
            finished = Finished("FAILED", None, "States.Runtime", f"internal error: {type(exc).__name__}: {exc}")
            history.append(_engine_event(arn, history, before_last_step, moment, finished))
            break
        for record in result.history:
            history.append({
                "execution_arn": arn,
                "id": record.id,
                "previous_event_id": record.previous_event_id,
                "type": record.type,
                "timestamp": record.timestamp,
                "details": dumps(dict(record.details)),
            })
        for action in result.actions:
            if isinstance(action, RunTask):
                tasks.append(action)
            elif isinstance(action, StartTimer):
                timers[action.timer_id] = action.due.timestamp()
            elif isinstance(action, CancelTask):
                cancelled.append(action.task_id)
            elif isinstance(action, Finished):
                finished = action
        if finished is not None:
            if index and finished.status != "SUCCEEDED":
                before_last_step = _replay(machine, run_state_text, events[:index], moment)
            break

    if history:
        connection.execute(INSERT_HISTORY, history)
    dispatch = _schedule_tasks(connection, arn, tasks, now, claim_for, lease_seconds, claim_limit)
    if cancelled:
        cancel_tasks(connection, arn, cancelled, now)
    values: dict[str, Any] = {
        "b_arn": arn,
        "run_state": dumps(run_state.to_json()),
        "event_count": int(history[-1]["id"]) if history else run_state.next_event_id - 1,
    }
    if finished is not None:
        # Nothing of a finished execution may run or fire any more.
        cancel_tasks(connection, arn, None, now)
        connection.execute(DELETE_TIMERS, {"b_arn": arn})
        dispatch = []
        values.update(
            status=finished.status,
            output=dumps(finished.output) if finished.status == "SUCCEEDED" else None,
            error=finished.error,
            cause=finished.cause,
            stop_time=moment,
            redrive_state=before_last_step if finished.status != "SUCCEEDED" else None,
        )
        connection.execute(UPDATE_ENDED, values)
    else:
        if timers:
            connection.execute(
                INSERT_TIMERS,
                [{"execution_arn": arn, "timer_id": tid, "due": due} for tid, due in timers.items()],
            )
        connection.execute(UPDATE_RUN, values)
    return Transition(dispatch, finished)


def _replay(machine: StateMachine, text: str | None, events: Sequence[Event], moment: datetime) -> str:
    """The run state after `events` (the batch before the failing one), for redrive.

    Recomputed only when an execution fails mid-batch, rather than snapshotting the state
    before every event; nothing of the batch is committed yet, so any replay is valid.
    """
    state = RunState.from_json(json.loads(text)) if text else RunState()
    for event in events:
        step(machine, state, event, moment)
    return dumps(state.to_json())


def _engine_event(
    arn: str, history: list[Mapping[str, Any]], before: str | None, moment: datetime, ended: Finished
) -> dict[str, Any]:
    """The ExecutionFailed event the engine writes itself when the step function raised."""
    if history:
        last = int(history[-1]["id"])
    else:
        last = int(json.loads(before)["next_event_id"]) - 1 if before else 0
    return {
        "execution_arn": arn, "id": last + 1, "previous_event_id": last, "type": "ExecutionFailed",
        "timestamp": moment, "details": dumps({"error": ended.error, "cause": ended.cause}),
    }


def _schedule_tasks(
    connection: Connection,
    arn: str,
    tasks: list[RunTask],
    now: float,
    claim_for: str | None,
    lease_seconds: float,
    claim_limit: int | None,
) -> list[TaskRequest]:
    if not tasks:
        return []
    rows = []
    attempts = []
    dispatch: list[TaskRequest] = []
    owner = claim_for
    for task in tasks:
        claim_for = owner if claim_limit is None or len(dispatch) < claim_limit else None
        rows.append({
            "execution_arn": arn,
            "task_id": task.task_id,
            "resource": task.resource,
            "input": dumps(task.input),
            "status": "RUNNING" if claim_for else "SCHEDULED",
            "attempt": 1 if claim_for else 0,
            "token": task.task_token,
            "wait_for_token": task.resource.endswith(WAIT_FOR_TOKEN),
            "timeout_seconds": task.timeout_seconds,
            "heartbeat_seconds": task.heartbeat_seconds,
            "lease_owner": claim_for,
            "lease_expiry": now + lease_seconds if claim_for else None,
            "scheduled_at": now,
            "finished_at": None,
        })
        if claim_for:
            attempts.append({
                "execution_arn": arn, "task_id": task.task_id, "attempt": 1, "worker": claim_for,
                "status": "RUNNING", "started_at": now, "finished_at": None,
                "error": None, "cause": None,
            })
            dispatch.append(TaskRequest(
                execution_arn=arn, task_id=task.task_id, resource=task.resource, input=task.input,
                attempt=1, timeout_seconds=task.timeout_seconds, task_token=task.task_token,
            ))
    connection.execute(INSERT_TASKS, rows)
    if attempts:
        connection.execute(INSERT_ATTEMPTS, attempts)
    return dispatch


def cancel_tasks(connection: Connection, arn: str, task_ids: list[str] | None, now: float) -> None:
    """Mark open tasks CANCELLED (all of the execution's when `task_ids` is None): late results are dropped."""
    if task_ids is None:
        connection.execute(CANCEL_ALL_TASKS, {"b_arn": arn, "b_now": now})
    else:
        connection.execute(CANCEL_SOME_TASKS, {"b_arn": arn, "b_now": now, "b_tasks": task_ids})


def next_wake(connection: Connection, arn: str) -> float | None:
    value = connection.execute(NEXT_WAKE, {"b_arn": arn}).scalar_one_or_none()
    return None if value is None else float(value)


def record_outcome(
    connection: Connection,
    arn: str,
    task_id: str,
    attempt: int,
    outcome: TaskOutcome,
    now: float,
    *,
    accept: Sequence[str] = ("RUNNING",),
) -> bool:
    """Close a task with `outcome` if it is still open in one of `accept`; False = a late duplicate.

    A `waiting` outcome (the resource was called, a callback token will answer) moves the task to
    WAITING instead. Only the first result of a task counts: tasks run at least once.
    """
    status = "WAITING" if outcome.waiting else "FAILED" if outcome.failed else "SUCCEEDED"
    changed = connection.execute(CLOSE_TASK, {
        "b_arn": arn, "b_task": task_id, "b_accept": list(accept), "status": status,
        "finished_at": None if status == "WAITING" else now,
    }).rowcount
    if attempt:
        connection.execute(CLOSE_ATTEMPT, {
            "b_arn": arn, "b_task": task_id, "b_attempt": attempt,
            "status": status if changed else "DUPLICATE", "finished_at": now,
            "error": outcome.error, "cause": outcome.cause,
        })
    return bool(changed)


def lock_execution(connection: Connection, arn: str) -> RowMapping | None:
    """The execution's row, locked until the transaction ends (waits for another holder)."""
    return connection.execute(LOCK_EXECUTION, {"b_arn": arn}).mappings().first()


def is_running(row: RowMapping | None) -> bool:
    return row is not None and row["status"] == RUNNING
