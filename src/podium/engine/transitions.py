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
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from podium.asl.definition import StateMachine, compile_definition
from podium.asl.runstate import dumps_compact
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
from podium.engine.fastsql import Sql, any_of
from podium.engine.models import RUNNING
from podium.errors import NotFoundError
from podium.store.tables.engine import (
    engine_executions,
    engine_history,
    engine_revisions,
    engine_tasks,
    engine_timers,
)
from podium.store.tables.triggers import triggers_outbox
from podium.triggers.podium_events import EXECUTION_STATUS, execution_status_detail

OPEN_TASK_STATUSES = ("SCHEDULED", "RUNNING", "WAITING")
WAIT_FOR_TOKEN = ".waitForTaskToken"

# The statements of the hot path are built once, with bound parameters: building a SQLAlchemy
# expression costs more than running it on SQLite, and a reused statement is compiled once.
_tasks, _executions, _timers = engine_tasks, engine_executions, engine_timers
# Those run per transition go straight to the driver (`fastsql.Sql`).
INSERT_HISTORY = Sql(insert(engine_history))
INSERT_TASKS = Sql(insert(_tasks))
INSERT_TIMERS = Sql(insert(_timers))
NEXT_WAKE = Sql(select(func.min(_timers.c.due)).where(_timers.c.execution_arn == bindparam("b_arn")))
DELETE_TIMERS = Sql(delete(_timers).where(_timers.c.execution_arn == bindparam("b_arn")))
_OPEN_TASKS = (_tasks.c.execution_arn == bindparam("b_arn")) & any_of(_tasks.c.status, OPEN_TASK_STATUSES)
_CANCEL_VALUES: dict[str, Any] = {"status": "CANCELLED", "finished_at": bindparam("b_now"), "lease_owner": None}
CANCEL_ALL_TASKS = Sql(update(_tasks).where(_OPEN_TASKS).values(**_CANCEL_VALUES))
CANCEL_SOME_TASKS = update(_tasks).where(
    _OPEN_TASKS & _tasks.c.task_id.in_(bindparam("b_tasks", expanding=True))
).values(**_CANCEL_VALUES)
# wake_at is the earliest due timer, computed in the same statement (one round trip less).
UPDATE_RUN = Sql(update(_executions).where(_executions.c.arn == bindparam("b_arn")).values(
    run_state=bindparam("run_state"), event_count=bindparam("event_count"),
    wake_at=select(func.min(_timers.c.due)).where(_timers.c.execution_arn == _executions.c.arn)
    .scalar_subquery(),
))
# The same without wake_at, for a transition that set no timer when none of the execution's
# timers was deleted (wake_at is then right already): an UPDATE that names wake_at rewrites its
# index entry even when the value stays.
UPDATE_STATE = Sql(update(_executions).where(_executions.c.arn == bindparam("b_arn")).values(
    run_state=bindparam("run_state"), event_count=bindparam("event_count"),
))
UPDATE_ENDED = Sql(update(_executions).where(_executions.c.arn == bindparam("b_arn")).values(
    run_state=bindparam("run_state"), event_count=bindparam("event_count"), wake_at=None,
    status=bindparam("status"), output=bindparam("output"), error=bindparam("error"),
    cause=bindparam("cause"), stop_time=bindparam("stop_time"),
    redrive_state=bindparam("redrive_state"),
))
_CLOSE_TASK: dict[tuple[str, ...], Sql] = {}
LOCK_EXECUTION = Sql(select(
    _executions.c.arn, _executions.c.id, _executions.c.status, _executions.c.type, _executions.c.run_state,
    _executions.c.revision_id, _executions.c.redrive_state, _executions.c.redrive_count,
    _executions.c.event_count,
).where(_executions.c.arn == bindparam("b_arn")).with_for_update())


def close_task_statement(accept: Sequence[str]) -> Sql:
    """UPDATE closing a task that is in one of the `accept` statuses (one statement per set)."""
    key = tuple(accept)
    statement = _CLOSE_TASK.get(key)
    if statement is None:
        statement = _CLOSE_TASK[key] = Sql(update(_tasks).where(
            (_tasks.c.execution_arn == bindparam("b_arn")) & (_tasks.c.task_id == bindparam("b_task"))
            & any_of(_tasks.c.status, key)
        ).values(
            status=bindparam("status"), lease_owner=None, lease_expiry=None,
            finished_at=bindparam("finished_at"),
        ))
    return statement


# Compact JSON from one encoder built once: json.dumps with keyword arguments builds a new one
# each time, which costs more than encoding a history event's details.
dumps = dumps_compact


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class MachineCache:
    """Compiled state machines by revision id: a definition is compiled once per process."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._machines: OrderedDict[str, StateMachine] = OrderedDict()

    def peek(self, revision_id: str) -> StateMachine | None:
        """The compiled machine if this process has it, without a connection to load it."""
        return self._machines.get(revision_id)

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


class RunStates:
    """Run states this process wrote, kept parsed, so the next transition of the same execution
    skips decoding its (possibly large: a Map's every iteration) JSON.

    An entry is used only if the text read from the locked row is exactly the text it was
    written as, and it is removed while in use: a transition that rolls back leaves no entry,
    and the next one decodes the stored text. New entries count only after their transaction
    committed (`stage`, then `commit` or `discard`). A live RunState behaves as its JSON does:
    EXPRESS and in-memory runs use nothing else.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._states: OrderedDict[str, tuple[str, RunState]] = OrderedDict()
        self._staged: dict[str, tuple[str, RunState]] = {}

    def take(self, arn: str, text: str) -> RunState | None:
        entry = self._states.pop(arn, None)
        if entry is None:
            entry = self._staged.pop(arn, None)
        return entry[1] if entry is not None and entry[0] == text else None

    def stage(self, arn: str, text: str, state: RunState) -> None:
        self._staged[arn] = (text, state)

    def commit(self) -> None:
        for arn, entry in self._staged.items():
            self._states[arn] = entry
            self._states.move_to_end(arn)
        self._staged.clear()
        while len(self._states) > self._size:
            self._states.popitem(last=False)

    def discard(self) -> None:
        self._staged.clear()


@dataclass
class Transition:
    """What one `advance` did: tasks claimed for the caller to run, and the end, if reached."""

    dispatch: list[TaskRequest]
    finished: Finished | None
    # Tasks left SCHEDULED because `claim_limit` was reached (for the worker's backlog).
    unclaimed: int = 0


def advance(
    connection: Connection,
    machine: StateMachine,
    arn: str,
    execution_id: int,
    run_state_text: str | None,
    events: Sequence[Event],
    now: float,
    *,
    claim_for: str | None = None,
    lease_seconds: float = 30.0,
    claim_limit: int | None = None,
    states: RunStates | None = None,
    timers_kept: bool = False,
) -> Transition:
    """Apply `events` in order and persist the result; the row of `arn` (whose `id` is
    `execution_id`, the key of its history rows) must be locked by the caller.

    With `claim_for` (a worker id), tasks the step asks for are claimed by that worker at once
    (status RUNNING, attempt 1, leased) and returned for it to submit after commit; without it
    they are left SCHEDULED for any worker to claim. `claim_limit` caps how many are claimed
    (the worker's free capacity); the rest stay SCHEDULED. `states` keeps run states parsed
    between transitions (the worker's cache). `timers_kept`: the caller deleted none of the
    execution's timers in this transaction (it applies task results), so the execution's
    `wake_at` is left as it is unless the step sets a timer.
    """
    cached = states.take(arn, run_state_text) if states is not None and run_state_text else None
    if cached is not None:
        run_state = cached
    else:
        run_state = RunState.from_json(json.loads(run_state_text)) if run_state_text else RunState()
    moment = datetime.fromtimestamp(now, UTC)
    # The history rows: (first event id, [[previous_event_id, type, details], ...]) for each
    # run of consecutive ids (one, as the stepper numbers events in order; see engine_history).
    history: list[tuple[int, list[list[Any]]]] = []
    chunk: list[list[Any]] = []
    next_id = -1
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
            last = next_id - 1 if history else _last_event_id(before_last_step)
            history.append((last + 1, [[last, "ExecutionFailed", {"error": finished.error, "cause": finished.cause}]]))
            break
        for record in result.history:
            if record.id != next_id:
                chunk = []
                history.append((record.id, chunk))
            details = record.details
            chunk.append([record.previous_event_id, record.type, details if type(details) is dict else dict(details)])
            next_id = record.id + 1
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

    last_event = 0
    if history:
        # Every event of a step carries the step's `now` (moment): the execution and the
        # timestamp are bound once for all rows (INSERT_HISTORY's `shared`).
        INSERT_HISTORY.executemany(connection, [
            {"id": first, "last_id": first + len(run) - 1, "events": dumps(run)} for first, run in history
        ], {"execution_id": execution_id, "timestamp": moment})
        last_event = history[-1][0] + len(history[-1][1]) - 1
    dispatch = _schedule_tasks(connection, arn, tasks, now, claim_for, lease_seconds, claim_limit)
    if cancelled:
        cancel_tasks(connection, arn, cancelled, now)
    run_state_out = run_state.to_text()
    values: dict[str, Any] = {
        "b_arn": arn,
        "run_state": run_state_out,
        "event_count": last_event if history else run_state.next_event_id - 1,
    }
    if finished is not None:
        # Nothing of a finished execution may run or fire any more.
        cancel_tasks(connection, arn, None, now)
        DELETE_TIMERS.execute(connection, {"b_arn": arn}).close()
        dispatch = []
        values.update(
            status=finished.status,
            output=dumps(finished.output) if finished.status == "SUCCEEDED" else None,
            error=finished.error,
            cause=finished.cause,
            stop_time=moment,
            redrive_state=before_last_step if finished.status != "SUCCEEDED" else None,
        )
        UPDATE_ENDED.execute(connection, values).close()
        record_status(connection, arn, finished.status, stop=moment, output=values["output"],
                      error=finished.error, cause=finished.cause)
    else:
        if timers:
            INSERT_TIMERS.executemany(
                connection,
                [{"execution_arn": arn, "timer_id": tid, "due": due} for tid, due in timers.items()],
            )
        (UPDATE_STATE if timers_kept and not timers else UPDATE_RUN).execute(connection, values).close()
        if states is not None:
            states.stage(arn, run_state_out, run_state)
    unclaimed = len(tasks) - len(dispatch) if claim_for is not None and finished is None else 0
    return Transition(dispatch, finished, unclaimed)


_STARTED = Sql(select(_executions.c.input, _executions.c.start_time).where(_executions.c.arn == bindparam("b_arn")))
_INSERT_EVENT = Sql(insert(triggers_outbox).values(
    {name: bindparam(name) for name in ("source", "detail_type", "detail", "resources", "time")}
))


def record_status(
    connection: Connection,
    arn: str,
    status: str,
    *,
    input_text: str | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> None:
    """Publish a STANDARD execution's status change (podium.engine "Step Functions Execution
    Status Change") in the transaction that makes it: the outbox row commits with the change.

    Called only on status changes (start, the end, a redrive), never per transition. The row
    is the one `podium.triggers.podium_events.record_execution_status` writes, inserted with a
    prebuilt statement: building an INSERT per call costs more than the whole transition.
    """
    from podium.engine import arns

    if input_text is None or start is None:
        row = _STARTED.first(connection, {"b_arn": arn})
        assert row is not None
        input_text, start = row["input"], _stored_datetime(row["start_time"])
    machine, name = arns.parse_execution(arn) or ("", "")
    detail = execution_status_detail(
        execution_arn=arn, state_machine_arn=arns.state_machine_arn(machine), name=name, status=status,
        start_date=start, stop_date=stop, input=input_text, output=output, error=error, cause=cause,
    )
    source, detail_type = EXECUTION_STATUS
    _INSERT_EVENT.execute(connection, {
        "source": source, "detail_type": detail_type, "detail": json.dumps(detail),
        "resources": json.dumps([arn]), "time": time.time(),
    }).close()


def _stored_datetime(value: datetime | str) -> datetime:
    # SQLite gives back the stored text (naive, UTC); PostgreSQL an aware datetime.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _replay(machine: StateMachine, text: str | None, events: Sequence[Event], moment: datetime) -> str:
    """The run state after `events` (the batch before the failing one), for redrive.

    Recomputed only when an execution fails mid-batch, rather than snapshotting the state
    before every event; nothing of the batch is committed yet, so any replay is valid.
    """
    state = RunState.from_json(json.loads(text)) if text else RunState()
    for event in events:
        step(machine, state, event, moment)
    return dumps(state.to_json())


def _last_event_id(run_state_text: str | None) -> int:
    """The id of the last history event written before the run state `run_state_text`."""
    return int(json.loads(run_state_text)["next_event_id"]) - 1 if run_state_text else 0


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
            "worker": claim_for,
            "started_at": now if claim_for else None,
        })
        if claim_for:
            dispatch.append(TaskRequest(
                execution_arn=arn, task_id=task.task_id, resource=task.resource, input=task.input,
                attempt=1, timeout_seconds=task.timeout_seconds, task_token=task.task_token,
            ))
    INSERT_TASKS.executemany(connection, rows)
    return dispatch


def cancel_tasks(connection: Connection, arn: str, task_ids: list[str] | None, now: float) -> None:
    """Mark open tasks CANCELLED (all of the execution's when `task_ids` is None): late results are dropped."""
    if task_ids is None:
        CANCEL_ALL_TASKS.execute(connection, {"b_arn": arn, "b_now": now}).close()
    else:
        connection.execute(CANCEL_SOME_TASKS, {"b_arn": arn, "b_now": now, "b_tasks": task_ids})


def next_wake(connection: Connection, arn: str) -> float | None:
    values = NEXT_WAKE.scalars(connection, {"b_arn": arn})
    return None if not values or values[0] is None else float(values[0])


def record_outcome(
    connection: Connection,
    arn: str,
    task_id: str,
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
    statement = _CLOSE_TASK.get(accept) if type(accept) is tuple else None
    changed = (statement or close_task_statement(accept)).rowcount(connection, {
        "b_arn": arn, "b_task": task_id, "status": status,
        "finished_at": None if status == "WAITING" else now,
    })
    return bool(changed)


def lock_execution(connection: Connection, arn: str) -> dict[str, Any] | None:
    """The execution's row, locked until the transaction ends (waits for another holder)."""
    return LOCK_EXECUTION.first(connection, {"b_arn": arn})


def is_running(row: Mapping[str, Any] | None) -> bool:
    return row is not None and row["status"] == RUNNING
