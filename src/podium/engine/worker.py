"""The worker loop: lease runnable executions, feed their events to the step function, run tasks.

One iteration (`run_once`) is one transaction that:
1. records the results of tasks that finished since the last iteration and advances their
   executions;
2. takes executions whose next timer is due (Wait, retry back-off, TimeoutSeconds,
   HeartbeatSeconds) and advances them;
3. claims tasks to run: new ones, and ones whose lease ran out because the worker running
   them died (at-least-once; a duplicate result is ignored);
and then, after commit, hands the claimed tasks to the executor. Rows are taken with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of worker processes share the
work; on SQLite `store.begin()` is BEGIN IMMEDIATE and one worker process is expected.

A waiting execution holds no thread: its timers are rows with due times, and the loop only
looks at executions whose `wake_at` has passed. EXPRESS executions are leased and run in memory
on a small thread pool (`podium.engine.express`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import select as io_select
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)

from podium.asl.step import Event, TaskFailed, TaskSucceeded, TimerFired
from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.engine.executors.local import PendingCall
from podium.engine.express import run_express
from podium.engine.fastsql import Sql, driver_of
from podium.engine.models import EXPRESS, RUNNING, STANDARD
from podium.engine.service import Engine
from podium.engine.transitions import (
    RunStates,
    advance,
    next_wake,
    record_outcome,
)
from podium.store.tables.engine import (
    CLAIMABLE_TASK,
    engine_executions,
    engine_task_attempts,
    engine_tasks,
    engine_timers,
)

log = logging.getLogger(__name__)

# How often a worker on SQLite checkpoints the WAL into the database file (see _connect).
CHECKPOINT_SECONDS = 0.5

_x, _tasks, _timers, _attempts = engine_executions, engine_tasks, engine_timers, engine_task_attempts
_ROW = (_x.c.arn, _x.c.id, _x.c.status, _x.c.run_state, _x.c.revision_id)
_LOCK_ONE = select(*_ROW).where(_x.c.arn == bindparam("b_arn"))
_DUE = (_x.c.status == RUNNING) & (_x.c.wake_at <= bindparam("b_now"))
_DUE_STANDARD = select(*_ROW).where(_DUE & (_x.c.type == STANDARD)).order_by(_x.c.wake_at)
_DUE_EXPRESS = select(*_ROW).where(_DUE & (_x.c.type == EXPRESS)).order_by(_x.c.wake_at)
_DUE_TIMERS = Sql(select(_timers.c.timer_id).where(
    (_timers.c.execution_arn == bindparam("b_arn")) & (_timers.c.due <= bindparam("b_now"))
).order_by(_timers.c.due, _timers.c.timer_id))
_DELETE_TIMERS = delete(_timers).where(
    (_timers.c.execution_arn == bindparam("b_arn"))
    & _timers.c.timer_id.in_(bindparam("b_timers", expanding=True))
)
_DELETE_TIMER = Sql(delete(_timers).where(
    (_timers.c.execution_arn == bindparam("b_arn")) & (_timers.c.timer_id == bindparam("b_timer"))
))
_SET_WAKE = Sql(update(_x).where(_x.c.arn == bindparam("b_arn")).values(wake_at=bindparam("wake_at")))
_LEASE_EXPRESS = update(_x).where(_x.c.arn == bindparam("b_arn")).values(
    lease_owner=bindparam("lease_owner"), lease_expiry=bindparam("lease_expiry"),
    wake_at=bindparam("lease_expiry"),
)
# Each branch names the claim index's condition, so that SQLite (which matches a partial index
# only on a term it finds in the WHERE) searches it, as PostgreSQL does.
_OPEN = text(CLAIMABLE_TASK)
_CLAIMABLE = select(_tasks).where(or_(
    _OPEN & (_tasks.c.status == "SCHEDULED"),
    _OPEN & (_tasks.c.status == "RUNNING") & (_tasks.c.lease_expiry < bindparam("b_now")),
)).order_by(_tasks.c.scheduled_at)
_INSERT_ABANDONED = Sql(insert(_attempts))
_CLAIM = Sql(update(_tasks).where(
    (_tasks.c.execution_arn == bindparam("b_arn")) & (_tasks.c.task_id == bindparam("b_task"))
).values(
    status="RUNNING", attempt=bindparam("attempt"), lease_owner=bindparam("lease_owner"),
    lease_expiry=bindparam("lease_expiry"), worker=bindparam("lease_owner"), started_at=bindparam("b_now"),
))
_MINE = (_tasks.c.lease_owner == bindparam("b_owner")) & (_tasks.c.status == "RUNNING") & _OPEN
_RENEW = update(_tasks).where(_MINE).values(lease_expiry=bindparam("lease_expiry"))
# On PostgreSQL the renewal skips rows another transaction holds (one closing or cancelling the
# task, a worker taking it over): it waits for none, so it cannot deadlock with one that waits
# for a row this iteration locked. A skipped lease is renewed at the next round, two of which
# fit in a lease.
_RENEW_UNLOCKED = update(_tasks).where(tuple_(_tasks.c.execution_arn, _tasks.c.task_id).in_(
    select(_tasks.c.execution_arn, _tasks.c.task_id).where(_MINE).with_for_update(skip_locked=True)
)).values(lease_expiry=bindparam("lease_expiry"))


class Worker:
    """Runs executions of one engine until stopped.

    `lease_seconds` bounds how long a task claimed by a worker that died stays unclaimed;
    leases of live workers are renewed every third of it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        worker_id: str | None = None,
        batch_size: int = 64,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.05,
        max_in_flight: int = 64,
        express_threads: int = 8,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.max_in_flight = max_in_flight
        self._skip_locked = self.store.dialect == "postgresql"
        self._sqlite = self.store.dialect == "sqlite"
        self._lock_one = Sql(self._locking(_LOCK_ONE))
        self._due_standard = Sql(self._locking(_DUE_STANDARD.limit(batch_size)))
        self._claimable = Sql(self._locking(_CLAIMABLE.limit(bindparam("b_limit"))))
        self._due_express = Sql(self._locking(_DUE_EXPRESS.limit(bindparam("b_limit"))))
        # The loop's own connection, kept between iterations (no pool checkout per transaction).
        self._connection: Connection | None = None
        self._checkpointer: threading.Thread | None = None
        self._states = RunStates()
        self._results: queue.SimpleQueue[tuple[TaskRequest, TaskOutcome]] = queue.SimpleQueue()
        self._held: list[tuple[TaskRequest, TaskOutcome]] = []
        # Function calls running in subprocesses that this loop waits on itself (no threads).
        self._direct: list[PendingCall] = []
        # Threads finishing other calls write a byte here to wake the loop's wait.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._in_flight: set[tuple[str, str]] = set()
        # The poller of the wait for direct calls, and the pipes it holds (see _wait_readable).
        self._poller = io_select.poll()
        self._polled: set[int] = set()
        self._express = ThreadPoolExecutor(express_threads, thread_name_prefix="podium-express")
        self._express_slots = express_threads
        self._express_running: set[str] = set()
        self._lock = threading.Lock()
        self._renewed_at = time.time()
        self._next_poll = 0.0
        # Claimable tasks are probably waiting (the last claim was cut short by capacity, or a
        # transition left tasks SCHEDULED): claim as results free capacity, not only at polls.
        self._backlog = False
        # run_until_done's executions, and those of them this loop ended (after commit).
        self._watched: set[str] = set()
        self._ended: set[str] = set()
        self._ending: list[str] = []
        self._stop = threading.Event()
        if self.store.dialect == "sqlite":
            self._start_checkpoints()
        engine.add_work_listener(self.poll_now)

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event | None = None) -> None:
        """Loop until `stop` (or `self.stop()`) is set."""
        stop = stop or self._stop
        log.info("worker %s started on %s", self.worker_id, self.store.url)
        while not stop.is_set() and not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._wait_for_work()
            except Exception:  # the database went away, a deadlock victim, ...: retry shortly
                log.exception("worker %s: iteration failed; retrying in 1 s", self.worker_id)
                stop.wait(1.0)
        log.info("worker %s stopped", self.worker_id)

    def start(self) -> threading.Thread:
        """Run the loop on a daemon thread (how `podium server` embeds a worker); `stop()` ends it."""
        thread = threading.Thread(target=self.run, name=f"podium-worker-{self.worker_id}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self.engine.remove_work_listener(self.poll_now)
        self._express.shutdown(wait=False, cancel_futures=True)
        executor = self.engine._executor  # noqa: SLF001 - only if one was started
        for call in self._direct:
            with contextlib.suppress(Exception):
                executor.abandon(call)  # type: ignore[union-attr]
        self._direct = []
        self._disconnect()
        with self._lock:  # no executor thread writes to the pipe while (or after) it is closed
            for fd in (self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_read = self._wake_write = -1

    def poll_now(self) -> None:
        """Look for claimable work and due timers at the next iteration, without waiting for
        the poll interval (the engine calls this when it committed work; any thread)."""
        # Set before the wake-up: the loop, woken, reads it. An iteration polling right now
        # set its own next poll before its queries, so this one is not lost.
        self._next_poll = 0.0
        self._wake()

    def _wake(self) -> None:
        """Wake the loop's wait (called by executor threads when a result is queued)."""
        with self._lock:
            if self._wake_write >= 0:
                with contextlib.suppress(OSError):  # full: the loop is awake anyway
                    os.write(self._wake_write, b"x")

    def run_until_idle(self, timeout: float = 30.0) -> None:
        """Loop until no execution is RUNNING (for tests and scripts); raise on `timeout`."""
        deadline = time.time() + timeout
        while True:
            done = self.run_once()
            if done == 0:
                if not self._busy() and self.engine.count_executions(RUNNING) == 0:
                    return
                if time.time() > deadline:
                    raise TimeoutError(f"executions still RUNNING after {timeout} s")
                self._wait_for_work()

    def run_until_done(self, arns: list[str], timeout: float = 30.0) -> None:
        """Loop until the executions `arns` have ended; raise on `timeout`."""
        deadline = time.time() + timeout
        pending = set(arns)
        # Executions this loop ends are known at once (the store is polled for the others).
        self._watched = pending
        try:
            self._run_until(pending, deadline, timeout)
        finally:
            self._watched, self._ended = set(), set()

    def _run_until(self, pending: set[str], deadline: float, timeout: float) -> None:
        checked = 0.0
        while pending:
            if self.run_once():
                if self._ended:
                    pending -= self._ended
                    self._ended.clear()
                continue
            if time.time() - checked >= self.poll_interval:
                checked = time.time()
                pending = {arn for arn in pending if self.engine.describe_execution(arn).status == RUNNING}
                if not pending:
                    return
                if time.time() > deadline:
                    raise TimeoutError(f"{len(pending)} executions still RUNNING after {timeout} s")
            self._wait_for_work()

    def run_once(self) -> int:
        """One iteration; returns how many things it did (0 = nothing was ready)."""
        now = time.time()
        results = self._held + self._drain() + self._collect()
        self._held = []
        dispatch: list[TaskRequest] = []
        express: list[str] = []
        # Task results are applied as soon as they arrive; the store is polled for due timers and
        # claimable work at most every poll_interval, so a busy worker spends its queries on results.
        poll = now >= self._next_poll
        if not results and not poll:
            return 0
        try:
            done = self._iteration(results, now, poll, dispatch, express)
        except BaseException:
            # Nothing was committed: keep the results for the next try (they are not re-run).
            self._held = results + self._held
            self._disconnect()  # the database may have gone away: reconnect next time
            raise
        threaded = False
        for request in dispatch:
            threaded |= self._submit(request)
        if dispatch:
            flush = getattr(self._executor(), "flush", None)
            if flush is not None:
                flush()
        if threaded:
            # Hand the GIL to the executor threads now rather than at the next forced switch
            # (5 ms): it is most of a Task's dispatch latency otherwise.
            time.sleep(0)
        for arn in express:
            self._express_running.add(arn)
            self._express.submit(self._run_express, arn)
        return done

    def _iteration(
        self,
        results: list[tuple[TaskRequest, TaskOutcome]],
        now: float,
        poll: bool,
        dispatch: list[TaskRequest],
        express: list[str],
    ) -> int:
        connection = self._connect()
        try:
            done = self._transaction(connection, results, now, poll, dispatch, express)
        except BaseException:
            self._states.discard()
            self._ending.clear()
            raise
        self._states.commit()
        if self._ending:
            self._ended.update(self._ending)
            self._ending.clear()
        return done

    def _transaction(
        self,
        connection: Connection,
        results: list[tuple[TaskRequest, TaskOutcome]],
        now: float,
        poll: bool,
        dispatch: list[TaskRequest],
        express: list[str],
    ) -> int:
        if not self._sqlite:
            with connection.begin():
                return self._work(connection, results, now, poll, dispatch, express)
        # On the driver: SQLAlchemy's Transaction costs more than BEGIN and COMMIT themselves
        # (one transaction per Task). A statement run through SQLAlchemy inside (the polls')
        # autobegins its own Transaction on top, which the store's BEGIN listener leaves alone
        # (the driver is in a transaction already); then its commit is the one that commits.
        driver = driver_of(connection)
        driver.execute("BEGIN IMMEDIATE").close()
        try:
            done = self._work(connection, results, now, poll, dispatch, express)
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            if driver.in_transaction:
                driver.rollback()
            raise
        if connection.in_transaction():
            connection.commit()
        else:
            driver.commit()
        return done

    def _work(
        self,
        connection: Connection,
        results: list[tuple[TaskRequest, TaskOutcome]],
        now: float,
        poll: bool,
        dispatch: list[TaskRequest],
        express: list[str],
    ) -> int:
        done = self._apply_results(connection, results, now, dispatch)
        if poll:
            self._next_poll = now + self.poll_interval
            done += self._fire_timers(connection, now, dispatch)
            done += self._claim_express(connection, now, express)
            done += self._claim_tasks(connection, now, dispatch)
        elif self._backlog and self._free() - len(dispatch) >= max(1, self.max_in_flight // 4):
            # A fan-out larger than max_in_flight: refill now rather than at the next poll,
            # in batches (each claim is a query), while the in-flight calls keep running.
            done += self._claim_tasks(connection, now, dispatch)
        if now - self._renewed_at > self.lease_seconds / 3:
            self._renew_leases(connection, now)
        return done

    # ------------------------------------------------------------------ steps of an iteration

    def _apply_results(
        self,
        connection: Connection,
        results: list[tuple[TaskRequest, TaskOutcome]],
        now: float,
        dispatch: list[TaskRequest],
    ) -> int:
        if not results:
            return 0
        by_execution: dict[str, list[tuple[TaskRequest, TaskOutcome]]] = defaultdict(list)
        for request, outcome in results:
            by_execution[request.execution_arn].append((request, outcome))
        rows = []
        for arn in by_execution:
            row = self._lock_one.first(connection, {"b_arn": arn})
            if row is not None:
                rows.append(row)
        for row in rows:
            events: list[Event] = []
            for request, outcome in by_execution.pop(row["arn"]):
                self._in_flight.discard((request.execution_arn, request.task_id))
                if record_outcome(connection, row["arn"], request.task_id, outcome, now) \
                        and not outcome.waiting:
                    events.append(
                        TaskFailed(request.task_id, outcome.error, outcome.cause) if outcome.failed
                        else TaskSucceeded(request.task_id, outcome.output)
                    )
            if events and row["status"] == RUNNING:
                dispatch.extend(self._advance(connection, row, events, now, len(dispatch), timers_kept=True))
        # Executions locked by another worker right now: try their results again next time.
        for pending in by_execution.values():
            self._held.extend(pending)
        return len(results)

    def _fire_timers(self, connection: Connection, now: float, dispatch: list[TaskRequest]) -> int:
        rows = self._due_standard.all(connection, {"b_now": now})
        for row in rows:
            arn = row["arn"]
            due = _DUE_TIMERS.scalars(connection, {"b_arn": arn, "b_now": now})
            if not due:
                _SET_WAKE.execute(connection, {"b_arn": arn, "wake_at": next_wake(connection, arn)}).close()
                continue
            if len(due) == 1:
                _DELETE_TIMER.execute(connection, {"b_arn": arn, "b_timer": due[0]}).close()
            else:
                connection.execute(_DELETE_TIMERS, {"b_arn": arn, "b_timers": due})
            events: list[Event] = [TimerFired(timer_id) for timer_id in due]
            dispatch.extend(self._advance(connection, row, events, now, len(dispatch)))
        return len(rows)

    def _claim_express(self, connection: Connection, now: float, claimed: list[str]) -> int:
        free = self._express_slots - len(self._express_running)
        if free <= 0:
            return 0
        rows = self._due_express.all(connection, {"b_now": now, "b_limit": free})
        for row in rows:
            connection.execute(_LEASE_EXPRESS, {
                "b_arn": row["arn"], "lease_owner": self.worker_id,
                "lease_expiry": now + self.lease_seconds,
            })
            claimed.append(row["arn"])
        return len(rows)

    def _claim_tasks(self, connection: Connection, now: float, dispatch: list[TaskRequest]) -> int:
        capacity = self._free() - len(dispatch)
        if capacity <= 0:
            return 0
        tasks = self._claimable.all(connection, {"b_now": now, "b_limit": capacity})
        self._backlog = len(tasks) >= capacity
        abandoned, claims = [], []
        for task in tasks:
            attempt = task["attempt"] + 1
            if task["status"] == "RUNNING":
                # Its worker died (or stalled past its lease): that attempt is abandoned.
                abandoned.append({
                    "execution_arn": task["execution_arn"], "task_id": task["task_id"],
                    "attempt": task["attempt"], "worker": task["worker"] or task["lease_owner"] or "",
                    "status": "ABANDONED", "started_at": task["started_at"] or now, "finished_at": now,
                    "error": None, "cause": None,
                })
            claims.append({
                "b_arn": task["execution_arn"], "b_task": task["task_id"], "attempt": attempt,
                "lease_owner": self.worker_id, "lease_expiry": now + self.lease_seconds, "b_now": now,
            })
            dispatch.append(TaskRequest(
                execution_arn=task["execution_arn"], task_id=task["task_id"],
                resource=task["resource"], input=json.loads(task["input"]), attempt=attempt,
                timeout_seconds=task["timeout_seconds"], task_token=task["token"],
            ))
        # One statement each for the whole batch (a fan-out claims up to max_in_flight at once).
        _INSERT_ABANDONED.executemany(connection, abandoned)
        _CLAIM.executemany(connection, claims)
        return len(tasks)

    def _renew_leases(self, connection: Connection, now: float) -> None:
        renew = _RENEW_UNLOCKED if self._skip_locked else _RENEW
        connection.execute(renew, {"b_owner": self.worker_id, "lease_expiry": now + self.lease_seconds})
        self._renewed_at = now

    # ------------------------------------------------------------------ helpers

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self.store.engine.connect()
            if self.store.dialect == "sqlite":
                # BEGIN IMMEDIATE: take the write lock at once, as store.begin() does.
                self._connection.execution_options(sqlite_immediate=True)
                # A commit that crosses SQLite's auto-checkpoint threshold copies the WAL into
                # the database and fsyncs it, in the committer's time: this loop leaves that
                # to its checkpoint thread instead (durability is the same: a commit is in
                # the WAL either way).
                driver = self._connection.connection.driver_connection
                driver.execute("PRAGMA wal_autocheckpoint=0").close()  # type: ignore[union-attr]
                self._start_checkpoints()
        return self._connection

    def _start_checkpoints(self) -> None:
        if self._checkpointer is None or not self._checkpointer.is_alive():
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name=f"podium-checkpoint-{self.worker_id}", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """Checkpoint the WAL every CHECKPOINT_SECONDS from a connection of its own (SQLite).

        PASSIVE: it copies what it can without waiting for, or blocking, the worker's writes;
        SQLite releases the GIL meanwhile, so the fsync costs the loop nothing.
        """
        try:
            with self.store.engine.connect() as connection:
                driver = connection.connection.driver_connection
                while not self._stop.wait(CHECKPOINT_SECONDS):
                    try:
                        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").close()  # type: ignore[union-attr]
                    except Exception:  # busy or gone: the next round tries again
                        log.debug("worker %s: WAL checkpoint skipped", self.worker_id, exc_info=True)
        except Exception:  # logged; commits then only grow the WAL until the next worker start
            log.exception("worker %s: WAL checkpoint thread stopped", self.worker_id)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                # Not back to the pool: on SQLite it no longer checkpoints on its own.
                connection.invalidate()
                connection.close()

    def _advance(
        self, connection: Connection, row: Mapping[str, Any], events: list[Event], now: float, claimed: int = 0,
        *, timers_kept: bool = False,
    ) -> list[TaskRequest]:
        if not events:
            return []
        machine = self.engine.machines.get(connection, row["revision_id"])
        transition = advance(
            connection, machine, row["arn"], row["id"], row["run_state"], events, now,
            claim_for=self.worker_id, lease_seconds=self.lease_seconds,
            claim_limit=max(0, self.max_in_flight - len(self._in_flight) - claimed),
            states=self._states, timers_kept=timers_kept,
        )
        if transition.unclaimed:
            self._backlog = True
        if transition.finished is not None and row["arn"] in self._watched:
            self._ending.append(row["arn"])
        return transition.dispatch

    def _executor(self) -> Any:
        """The engine's executor, without its property's call once it exists (per Task)."""
        return self.engine._executor or self.engine.executor  # noqa: SLF001

    def _free(self) -> int:
        """How many more tasks this worker may run now."""
        return self.max_in_flight - len(self._in_flight)

    def _locking(self, query: Select[Any]) -> Select[Any]:
        """`query` taking row locks that other workers skip (PostgreSQL); SQLite locks the database."""
        return query.with_for_update(skip_locked=True) if self._skip_locked else query

    def _submit(self, request: TaskRequest) -> bool:
        """Hand `request` to the executor; True when a thread runs it (False: a function call
        this loop waits on itself, or an outcome known at once)."""
        self._in_flight.add((request.execution_arn, request.task_id))
        executor = self._executor()
        start = getattr(executor, "start", None)
        if start is not None:
            try:
                started = start(request)
            except Exception as exc:  # an executor must not raise; if it does, the task fails
                started = TaskOutcome(error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
            if isinstance(started, TaskOutcome):
                self._held.append((request, started))
                return False
            if isinstance(started, PendingCall):
                self._direct.append(started)
                return False
            # BUSY (every function slot taken): a thread waits for one, as for any other call,
            # so the pool is refilled while this loop is in a transaction.
        future = executor.submit(request)

        def done(finished: Future[TaskOutcome]) -> None:
            try:
                outcome = finished.result()
            except Exception as exc:  # an executor must not raise; if it does, the task fails
                outcome = TaskOutcome(error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
            self._results.put((request, outcome))
            self._wake()

        future.add_done_callback(done)
        return True

    def _collect(self, timeout: float = 0.0) -> list[tuple[TaskRequest, TaskOutcome]]:
        """Outcomes of the direct function calls that replied or passed their deadline; with a
        `timeout`, first wait up to that long for one of them or for a thread's result."""
        if timeout > 0 and self._wake_read >= 0:
            if self._direct:
                timeout = min(timeout, max(0.0, min(c.deadline for c in self._direct) - time.monotonic()))
            if self._wait_readable(timeout):
                with contextlib.suppress(OSError):
                    os.read(self._wake_read, 65536)
        if not self._direct:
            return []
        # No poll over all the calls' pipes first: `ready` asks each process's own (registered
        # once) poller, and only for the call at the head of its queue; the calls behind it
        # are answered after it, so they cost no system call.
        executor = self._executor()
        is_ready = executor.ready
        finished, running = [], []
        # In dispatch order, which is each process's queue order: a call whose reply follows
        # its predecessor's in the same pipe is collected in this same pass.
        for call in self._direct:
            if is_ready(call):
                finished.append((call.request, executor.finish(call)))
            else:
                running.append(call)
        if finished:
            self._direct = running
        return finished

    def _wait_readable(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until a direct call's pipe or the wake-up pipe is
        readable (or a function process died); True when the wake-up pipe is.

        The poller is kept between waits and rebuilt only when the set of pipes changes (a
        chain of Tasks waits on the same function process again and again)."""
        fds = {call.connection.fileno() for call in self._direct}
        fds.add(self._wake_read)
        if fds != self._polled:
            self._poller = io_select.poll()
            for fd in fds:
                self._poller.register(fd, io_select.POLLIN)
            self._polled = fds
        # Any event counts (POLLHUP: a function process died), as it does for mp_wait.
        events = self._poller.poll(math.ceil(timeout * 1000))
        return any(fd == self._wake_read for fd, _ in events)

    def _run_express(self, arn: str) -> None:
        try:
            run_express(self.engine, arn, self.worker_id, self.lease_seconds)
        except Exception:  # logged; the lease runs out and the execution is run again
            log.exception("EXPRESS execution %s failed in worker %s", arn, self.worker_id)
        finally:
            with self._lock:
                self._express_running.discard(arn)

    def _drain(self) -> list[tuple[TaskRequest, TaskOutcome]]:
        # Checked before taking (this loop is the only consumer): get_nowait on an empty queue
        # raises, and the queue is empty at nearly every call.
        results = self._results
        drained = []
        while not results.empty():
            drained.append(results.get_nowait())
        return drained

    def _wait_for_work(self) -> None:
        """Sleep until a task result arrives or the next poll is due (timers, other workers)."""
        timeout = max(0.0, min(self.poll_interval, self._next_poll - time.time()))
        if not self._results.empty():
            return
        if timeout > 0:
            self._held.extend(self._collect(timeout))

    def _busy(self) -> bool:
        return bool(self._in_flight or self._held or self._express_running or self._direct)

