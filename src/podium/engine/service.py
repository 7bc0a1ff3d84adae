"""The engine's API: state machines, versions, aliases, executions, history, callbacks, redrive.

`Engine(settings, store)` is what the CLI, the HTTP API and Python callers use. STANDARD
executions are advanced here only by transitions that need no worker (StartExecution's first
step, StopExecution, SendTaskSuccess/Failure); everything else is the worker's
(`podium.engine.worker`). EXPRESS executions run in memory (`podium.engine.express`).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from podium.asl.definition import compile_definition
from podium.asl.step import (
    RunState,
    StartExecution,
    StopExecution,
    TaskFailed,
    TaskHeartbeat,
    TaskSucceeded,
)
from podium.engine import arns
from podium.engine.executors.base import Executor, TaskOutcome
from podium.engine.fastsql import Sql
from podium.engine.models import (
    EXPRESS,
    REDRIVABLE,
    RUNNING,
    STANDARD,
    WORKFLOW_TYPES,
    AliasInfo,
    ExecutionInfo,
    HistoryRecord,
    Page,
    StateMachineInfo,
    VersionInfo,
)
from podium.engine.transitions import (
    MachineCache,
    advance,
    dumps,
    is_running,
    lock_execution,
    next_wake,
    record_outcome,
    record_status,
    to_datetime,
)
from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.functions import FunctionPool, FunctionRegistry
from podium.store import Store
from podium.store.tables.engine import (
    engine_aliases,
    engine_executions,
    engine_history,
    engine_revisions,
    engine_state_machines,
    engine_tasks,
    engine_timers,
    engine_versions,
)

MAX_PAGE = 1000

# Both return the new execution's id: the next one on SQLite (the transaction holds the
# database's write lock), the sequence's next value on PostgreSQL (the column's default).
_EXECUTION_VALUES: dict[str, Any] = {column.name: bindparam(column.name) for column in engine_executions.c if column.name != "id"}
_INSERT_EXECUTION = {
    "sqlite": Sql(insert(engine_executions).values({
        **_EXECUTION_VALUES,
        "id": select(func.coalesce(func.max(engine_executions.c.id), 0) + 1).scalar_subquery(),
    }).returning(engine_executions.c.id)),
    "postgresql": Sql(insert(engine_executions).values(_EXECUTION_VALUES).returning(engine_executions.c.id)),
}
# StartExecution's reads, straight to the driver (see podium.engine.fastsql).
_MACHINE_TYPE = Sql(
    select(engine_state_machines.c.type, engine_state_machines.c.revision_id)
    .where(engine_state_machines.c.name == bindparam("b_name"))
)
_NAME_USED = Sql(select(engine_executions.c.arn).where(
    (engine_executions.c.state_machine == bindparam("b_machine"))
    & (engine_executions.c.name == bindparam("b_name"))
))
_MACHINE = select(engine_state_machines).where(engine_state_machines.c.name == bindparam("b_name"))
_BY_NAME = select(engine_executions).where(
    (engine_executions.c.state_machine == bindparam("b_machine"))
    & (engine_executions.c.name == bindparam("b_name"))
)
# Built once: building a statement costs more than running it (StartSyncExecution runs these).
_EXECUTION_ROW = select(engine_executions).where(engine_executions.c.arn == bindparam("b_arn"))
# How long StartSyncExecution's own lease on its EXPRESS execution lasts (renewed as it runs).
_SYNC_LEASE_SECONDS = 300.0
_CLAIM_EXPRESS = update(engine_executions).where(
    (engine_executions.c.arn == bindparam("b_arn")) & (engine_executions.c.status == RUNNING)
    & or_(engine_executions.c.wake_at.is_(None), engine_executions.c.wake_at <= bindparam("b_now"))
).values(lease_owner=bindparam("lease_owner"), lease_expiry=bindparam("lease_expiry"),
         wake_at=bindparam("lease_expiry"))

# Function calls the worker's loop may queue in one function process's pipe (FunctionPool's
# queue_depth): with the default two processes and max_in_flight 64, every in-flight call is
# queued in a pipe and none waits on a thread.
FUNCTION_QUEUE_DEPTH = 32

class Engine:
    """Durable Step Functions-style workflows over a metadata store."""

    def __init__(
        self,
        settings: Any,
        store: Store,
        *,
        functions: FunctionRegistry | None = None,
        function_pool_size: int = 4,
        resources: Mapping[str, Callable[[Any], Any]] | Callable[[], Mapping[str, Callable[[Any], Any]]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.functions = functions if functions is not None else FunctionRegistry.from_settings(settings)
        self.machines = MachineCache()
        self._function_pool_size = function_pool_size
        self._executor: Executor | None = None
        self._pool: FunctionPool | None = None
        self._router: Any = None
        self._resources = resources
        # Workers of this process, called after a commit that leaves them work (see work_ready).
        self._work_listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ runtime

    @property
    def router(self) -> Any:
        """The ResourceRouter Task calls go through (created on first use).

        It knows functions and, unless `resources` (a mapping, or a function returning one)
        was given, every resource of `podium.integrations.build_resources`.
        """
        if self._router is None:
            from podium.engine.resources import ResourceRouter

            # The worker's loop queues function calls in the processes' pipes (up to
            # FUNCTION_QUEUE_DEPTH each), so a process never idles through the loop's transaction.
            self._pool = FunctionPool(self._function_pool_size, queue_depth=FUNCTION_QUEUE_DEPTH)
            self._router = ResourceRouter(self.functions, self._pool)
            resources = self._resources
            if callable(resources):  # a factory: build the handlers only when a Task first runs
                resources = resources()
            if resources is None:
                # Podium's own integrations (Glue, SageMaker, Feature Store, delivery, ...).
                from podium.integrations import build_resources

                resources = build_resources(self.settings, self.store)
            for arn, handler in resources.items():
                self._router.register(arn, handler)
        return self._router

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            from podium.engine.executors.local import LocalExecutor

            self._executor = LocalExecutor(self.router)
        return self._executor

    def close(self) -> None:
        """Stop the executor and the function processes this engine started."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            self._router = None

    def add_work_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` (quick, any thread) whenever this engine commits work for a worker."""
        self._work_listeners.append(listener)

    def remove_work_listener(self, listener: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._work_listeners.remove(listener)

    def work_ready(self) -> None:
        """Tell this process's workers that work was committed (a started or redriven execution,
        a callback's result): they poll now rather than at their next poll interval, so an
        execution started in the process that runs its worker (`podium server`) waits for none.
        Workers in other processes find it at their next poll."""
        for listener in list(self._work_listeners):
            listener()

    # ------------------------------------------------------------------ state machines

    def create_state_machine(
        self,
        name: str,
        definition: Mapping[str, Any] | str,
        *,
        type: str = STANDARD,  # noqa: A002 - the AWS field name
        description: str = "",
        publish: bool = False,
    ) -> StateMachineInfo:
        """Create a state machine; the definition is compiled (validated) first.

        Creating one that exists with the same definition and type returns it (idempotent);
        anything else is StateMachineAlreadyExists.
        """
        arns.check_name("state machine", name)
        doc = _definition_doc(definition)
        workflow_type = _check_type(type)
        revision = _revision_id(doc)
        now = datetime.now(UTC)
        with self.store.begin() as connection:
            existing = self._machine_row(connection, name, required=False)
            if existing is not None:
                if existing["revision_id"] == revision and existing["type"] == workflow_type:
                    return _machine_info(existing)
                raise ConflictError(
                    f"state machine {name!r} already exists with a different definition or type; "
                    "use update to change it",
                    code="StateMachineAlreadyExists",
                )
            connection.execute(insert(engine_state_machines).values(
                name=name, arn=arns.state_machine_arn(name), type=workflow_type,
                definition=dumps(doc), description=description, revision_id=revision,
                created_at=now, updated_at=now,
            ))
            _save_revision(connection, name, revision, doc, now)
            if publish:
                self._publish(connection, name, "")
            return _machine_info(self._machine_row(connection, name))

    def update_state_machine(
        self,
        name: str,
        *,
        definition: Mapping[str, Any] | str | None = None,
        description: str | None = None,
        publish: bool = False,
        version_description: str = "",
    ) -> StateMachineInfo:
        """Change the definition and/or description; running executions keep their definition."""
        name = arns.parse_target(name).state_machine
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        with self.store.begin() as connection:
            self._machine_row(connection, name)
            if definition is not None:
                doc = _definition_doc(definition)
                revision = _revision_id(doc)
                values.update(definition=dumps(doc), revision_id=revision)
                _save_revision(connection, name, revision, doc, values["updated_at"])
            if description is not None:
                values["description"] = description
            connection.execute(
                update(engine_state_machines).where(engine_state_machines.c.name == name).values(**values)
            )
            if publish:
                self._publish(connection, name, version_description)
            return _machine_info(self._machine_row(connection, name))

    def describe_state_machine(self, name: str) -> StateMachineInfo:
        target = arns.parse_target(name)
        with self.store.connect() as connection:
            info = _machine_info(self._machine_row(connection, target.state_machine))
            if target.version is None and target.alias is None:
                return info
            revision, _, _ = self._resolve(connection, target, self._machine_row(connection, target.state_machine))
            text = connection.execute(
                select(engine_revisions.c.definition).where(engine_revisions.c.revision_id == revision)
            ).scalar_one()
            return StateMachineInfo(
                name=info.name, arn=arns.state_machine_arn(name if ":" in name else info.name),
                type=info.type, definition=json.loads(text), description=info.description,
                revision_id=revision, created_at=info.created_at, updated_at=info.updated_at,
            )

    def list_state_machines(self) -> list[StateMachineInfo]:
        with self.store.connect() as connection:
            rows = connection.execute(
                select(engine_state_machines).order_by(engine_state_machines.c.name)
            ).mappings()
            return [_machine_info(row) for row in rows]

    def delete_state_machine(self, name: str) -> None:
        """Delete a state machine with its versions and aliases; its executions stay readable."""
        name = arns.parse_target(name).state_machine
        with self.store.begin() as connection:
            self._machine_row(connection, name)
            connection.execute(delete(engine_aliases).where(engine_aliases.c.state_machine == name))
            connection.execute(delete(engine_versions).where(engine_versions.c.state_machine == name))
            connection.execute(delete(engine_state_machines).where(engine_state_machines.c.name == name))

    # ------------------------------------------------------------------ versions and aliases

    def publish_version(self, name: str, description: str = "") -> VersionInfo:
        """Freeze the current definition as the next version (the latest one if unchanged)."""
        name = arns.parse_target(name).state_machine
        with self.store.begin() as connection:
            self._machine_row(connection, name)
            return self._publish(connection, name, description)

    def list_versions(self, name: str) -> list[VersionInfo]:
        name = arns.parse_target(name).state_machine
        with self.store.connect() as connection:
            self._machine_row(connection, name)
            rows = connection.execute(
                select(engine_versions)
                .where(engine_versions.c.state_machine == name)
                .order_by(engine_versions.c.version.desc())
            ).mappings()
            return [_version_info(row) for row in rows]

    def delete_version(self, name: str, version: int) -> None:
        name = arns.parse_target(name).state_machine
        with self.store.begin() as connection:
            for alias in self._alias_rows(connection, name):
                if any(route["version"] == version for route in json.loads(alias["routing"])):
                    raise ConflictError(
                        f"version {version} of {name!r} is used by alias {alias['name']!r}; "
                        "point the alias elsewhere first",
                        code="ConflictException",
                    )
            deleted = connection.execute(delete(engine_versions).where(
                (engine_versions.c.state_machine == name) & (engine_versions.c.version == version)
            )).rowcount
            if not deleted:
                raise NotFoundError(f"state machine {name!r} has no version {version}",
                                    code="ResourceNotFound")

    def create_alias(
        self, name: str, alias: str, routing: Sequence[Mapping[str, Any]] | Mapping[int, int],
        description: str = "",
    ) -> AliasInfo:
        """Point `alias` at one or two versions with weights summing to 100."""
        name = arns.parse_target(name).state_machine
        arns.check_name("alias", alias)
        if alias.isdigit():
            raise ValidationError("an alias name cannot be only digits (that names a version)")
        now = datetime.now(UTC)
        with self.store.begin() as connection:
            self._machine_row(connection, name)
            routes = self._check_routing(connection, name, routing)
            exists = connection.execute(select(engine_aliases.c.name).where(
                (engine_aliases.c.state_machine == name) & (engine_aliases.c.name == alias)
            )).first()
            if exists:
                raise ConflictError(f"alias {alias!r} of {name!r} already exists; update it instead",
                                    code="ConflictException")
            connection.execute(insert(engine_aliases).values(
                state_machine=name, name=alias, routing=dumps(routes), description=description,
                created_at=now, updated_at=now,
            ))
            return self._alias(connection, name, alias)

    def update_alias(
        self, name: str, alias: str, routing: Sequence[Mapping[str, Any]] | Mapping[int, int],
        description: str | None = None,
    ) -> AliasInfo:
        name = arns.parse_target(name).state_machine
        with self.store.begin() as connection:
            self._alias(connection, name, alias)
            routes = self._check_routing(connection, name, routing)
            values: dict[str, Any] = {"routing": dumps(routes), "updated_at": datetime.now(UTC)}
            if description is not None:
                values["description"] = description
            connection.execute(update(engine_aliases).where(
                (engine_aliases.c.state_machine == name) & (engine_aliases.c.name == alias)
            ).values(**values))
            return self._alias(connection, name, alias)

    def describe_alias(self, name: str, alias: str) -> AliasInfo:
        with self.store.connect() as connection:
            return self._alias(connection, arns.parse_target(name).state_machine, alias)

    def list_aliases(self, name: str) -> list[AliasInfo]:
        name = arns.parse_target(name).state_machine
        with self.store.connect() as connection:
            return [_alias_info(row) for row in self._alias_rows(connection, name)]

    def delete_alias(self, name: str, alias: str) -> None:
        name = arns.parse_target(name).state_machine
        with self.store.begin() as connection:
            deleted = connection.execute(delete(engine_aliases).where(
                (engine_aliases.c.state_machine == name) & (engine_aliases.c.name == alias)
            )).rowcount
            if not deleted:
                raise NotFoundError(f"state machine {name!r} has no alias {alias!r}",
                                    code="ResourceNotFound")

    # ------------------------------------------------------------------ executions

    def start_execution(
        self, state_machine: str, input: Any = None, *, name: str | None = None,  # noqa: A002
    ) -> ExecutionInfo:
        """Start an execution of a state machine, `machine:version` or `machine:alias`.

        With a `name` already used on this state machine: the same input returns that
        execution (a retried request starts nothing new); a different input is
        ExecutionAlreadyExists.
        """
        return self._start(state_machine, input, name)[0]

    def _start(
        self, state_machine: str, input: Any, name: str | None, lease: tuple[str, float] | None = None,  # noqa: A002
    ) -> tuple[ExecutionInfo, bool]:
        """start_execution, and whether this call inserted the execution. With `lease`
        (owner, seconds), a new EXPRESS execution starts leased to that owner, so that no
        worker takes it (StartSyncExecution runs it itself)."""
        target = arns.parse_target(state_machine)
        execution_name = arns.check_name("execution", name) if name else arns.execution_name()
        payload = {} if input is None else input
        if isinstance(payload, str):
            payload = _parse_input(payload)
        input_text = dumps(payload)
        now = time.time()
        try:
            with self.store.begin() as connection:
                machine_row = _MACHINE_TYPE.first(connection, {"b_name": target.state_machine})
                if machine_row is None:
                    self._machine_row(connection, target.state_machine)  # raises the NotFound
                if _NAME_USED.first(connection, {"b_machine": target.state_machine, "b_name": execution_name}):
                    existing = self._existing(connection, target.state_machine, execution_name, input_text)
                    if existing is not None:
                        return existing, False
                revision, version, alias = self._resolve(connection, target, machine_row)  # type: ignore[arg-type]
                workflow_type = machine_row["type"]  # type: ignore[index]
                arn = arns.execution_arn(target.state_machine, execution_name, workflow_type == EXPRESS)
                start_time = to_datetime(now)
                inserted = _INSERT_EXECUTION[self.store.dialect].first(connection, {
                    "arn": arn, "name": execution_name, "state_machine": target.state_machine,
                    "revision_id": revision, "version": version, "alias": alias,
                    "type": workflow_type, "status": RUNNING, "input": input_text,
                    "start_time": start_time, "event_count": 0, "redrive_count": 0,
                    # An EXPRESS run waits for a worker to take it (unless leased to the caller:
                    # wake_at is then the lease's end); a STANDARD one starts below.
                    "wake_at": (now + lease[1] if lease else now) if workflow_type == EXPRESS else None,
                    "output": None, "error": None, "cause": None, "stop_time": None,
                    "run_state": None, "redrive_state": None,
                    "lease_owner": lease[0] if lease and workflow_type == EXPRESS else None,
                    "lease_expiry": now + lease[1] if lease and workflow_type == EXPRESS else None,
                    "redrive_time": None,
                })
                assert inserted is not None
                finished = None
                if workflow_type == STANDARD:
                    record_status(connection, arn, RUNNING, input_text=input_text, start=start_time)
                    machine = self.machines.get(connection, revision)
                    finished = advance(
                        connection, machine, arn, inserted["id"], None, [self.start_event(arn, payload, 0)], now
                    ).finished
                info = ExecutionInfo(
                    arn=arn, name=execution_name, state_machine=target.state_machine,
                    type=workflow_type, status=finished.status if finished else RUNNING,
                    input=payload, output=finished.output if finished and finished.status == "SUCCEEDED" else None,
                    error=finished.error if finished else None,
                    cause=finished.cause if finished else None, start_time=start_time,
                    stop_time=start_time if finished else None, version=version, alias=alias,
                    redrive_count=0, revision_id=revision,
                )
        except (IntegrityError, self.store.engine.dialect.dbapi.IntegrityError):  # type: ignore[union-attr]
            # Another caller started the same name at the same moment: answer as if it came first.
            with self.store.connect() as connection:
                existing = self._existing(connection, target.state_machine, execution_name, input_text)
                if existing is None:
                    raise
                return existing, False
        if finished is None and workflow_type == STANDARD:
            self.work_ready()
        return info, True

    def start_sync_execution(
        self, state_machine: str, input: Any = None, *, name: str | None = None,  # noqa: A002
    ) -> ExecutionInfo:
        """Run an EXPRESS execution to its end in this process and return it (StartSyncExecution)."""
        from podium.engine.express import run_express

        # Started leased to this caller (one transaction): no worker can take it meanwhile.
        info, started = self._start(state_machine, input, name, lease=("sync", _SYNC_LEASE_SECONDS))
        if info.type != EXPRESS:
            raise ValidationError(
                f"{state_machine!r} is a STANDARD state machine; StartSyncExecution runs EXPRESS ones",
                code="StateMachineTypeNotSupported",
            )
        if info.status != RUNNING:
            return info
        # An existing execution of the same name and input: run it if its lease is free.
        if started or self.claim_express(info.arn, owner="sync", lease_seconds=_SYNC_LEASE_SECONDS):
            ended = run_express(self, info.arn, owner="sync", started=(info.input, info.revision_id))
            if ended is not None:
                finished, stop_time = ended
                return dataclasses.replace(
                    info, status=finished.status, stop_time=stop_time,
                    output=finished.output if finished.status == "SUCCEEDED" else None,
                    error=finished.error, cause=finished.cause,
                )
        return self.describe_execution(info.arn)

    def describe_execution(self, arn: str) -> ExecutionInfo:
        with self.store.connect() as connection:
            return self._execution(connection, arn)

    def list_executions(
        self,
        state_machine: str | None = None,
        *,
        status: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> Page:
        """Executions newest first, optionally of one state machine and/or with one status."""
        limit = _check_limit(limit)
        offset = _decode_token(next_token)
        query = select(engine_executions)
        if state_machine:
            target = arns.parse_target(state_machine)
            query = query.where(engine_executions.c.state_machine == target.state_machine)
            if target.version is not None:
                query = query.where(engine_executions.c.version == target.version)
            if target.alias is not None:
                query = query.where(engine_executions.c.alias == target.alias)
        if status:
            query = query.where(engine_executions.c.status == status.upper())
        query = query.order_by(
            engine_executions.c.start_time.desc(), engine_executions.c.arn
        ).offset(offset).limit(limit + 1)
        with self.store.connect() as connection:
            rows = list(connection.execute(query).mappings())
        items = [_execution_info(row) for row in rows[:limit]]
        token = page_token(offset + limit) if len(rows) > limit else None
        return Page(items, token)

    def stop_execution(
        self, arn: str, *, error: str | None = None, cause: str | None = None
    ) -> ExecutionInfo:
        """Abort a running execution (status ABORTED with `error`/`cause`); its tasks are cancelled."""
        now = time.time()
        with self.store.begin() as connection:
            row = lock_execution(connection, arn)
            if row is None:
                raise NotFoundError(f"execution {arn!r} does not exist", code="ExecutionDoesNotExist")
            if not is_running(row):
                raise ConflictError(
                    f"execution {arn!r} is {row['status']}, not RUNNING; only running executions stop",
                    code="ExecutionNotRunning",
                )
            if row["type"] == EXPRESS:
                connection.execute(update(engine_executions).where(engine_executions.c.arn == arn).values(
                    status="ABORTED", error=error, cause=cause, stop_time=to_datetime(now), wake_at=None,
                ))
            else:
                machine = self.machines.get(connection, row["revision_id"])
                advance(connection, machine, arn, row["id"], row["run_state"], [StopExecution(error, cause)], now)
            return self._execution(connection, arn)

    def get_execution_history(
        self,
        arn: str,
        *,
        reverse: bool = False,
        limit: int = 100,
        next_token: str | None = None,
    ) -> Page:
        """History events of a STANDARD execution, oldest first (or newest first with `reverse`)."""
        limit = _check_limit(limit)
        after = _decode_token(next_token)
        with self.store.connect() as connection:
            execution = self._execution(connection, arn)
            if execution.type == EXPRESS:
                raise ValidationError(
                    f"execution {arn!r} is EXPRESS: EXPRESS runs keep no history (only start and result)",
                    code="InvalidArn",
                )
            key = connection.execute(
                select(engine_executions.c.id).where(engine_executions.c.arn == arn)
            ).scalar_one()
            # A row holds a transition's events (ids id..last_id): limit + 1 rows hold at least
            # limit + 1 events past `after`, the first of them from the row that holds after + 1.
            query = select(engine_history).where(engine_history.c.execution_id == key)
            if reverse:
                if after:
                    query = query.where(engine_history.c.id < after)
                query = query.order_by(engine_history.c.id.desc())
            else:
                start = connection.execute(select(func.max(engine_history.c.id)).where(
                    (engine_history.c.execution_id == key) & (engine_history.c.id <= after + 1)
                )).scalar_one_or_none()
                query = query.where(engine_history.c.id >= (start or 0)).order_by(engine_history.c.id)
            rows = list(connection.execute(query.limit(limit + 1)).mappings())
        items: list[HistoryRecord] = []
        for row in rows:
            events = _history_records(row)
            if reverse:
                events.reverse()
                items.extend(event for event in events if not after or event.id < after)
            else:
                items.extend(event for event in events if event.id > after)
            if len(items) > limit:
                break
        token = page_token(items[limit - 1].id) if len(items) > limit else None
        return Page(items[:limit], token)

    def redrive_execution(self, arn: str) -> ExecutionInfo:
        """Resume a FAILED, TIMED_OUT or ABORTED STANDARD execution from where it failed.

        The run state persisted just before the failing transition is restored: what had
        succeeded is kept (finished states, Map items, Parallel branches), and the tasks that
        were pending then are run again. A failure that is not a task's (a Fail state, a bad
        path) happens again on redrive, as on AWS.
        """
        now = time.time()
        with self.store.begin() as connection:
            row = lock_execution(connection, arn)
            if row is None:
                raise NotFoundError(f"execution {arn!r} does not exist", code="ExecutionDoesNotExist")
            if row["type"] != STANDARD or row["status"] not in REDRIVABLE or not row["redrive_state"]:
                raise ConflictError(
                    f"execution {arn!r} ({row['type']}, {row['status']}) cannot be redriven: only "
                    "STANDARD executions that FAILED, TIMED_OUT or were ABORTED can",
                    code="ExecutionNotRedrivable",
                )
            run_state = RunState.from_json(json.loads(row["redrive_state"]))
            # History ids continue after the failure's events.
            run_state.next_event_id = row["event_count"] + 1
            redrive_count = row["redrive_count"] + 1
            run_state.context.setdefault("Execution", {})["RedriveCount"] = redrive_count
            connection.execute(insert(engine_history).values(
                execution_id=row["id"], id=run_state.next_event_id, last_id=run_state.next_event_id,
                timestamp=to_datetime(now),
                events=dumps([[row["event_count"], "ExecutionRedriven", {"redriveCount": redrive_count}]]),
            ))
            run_state.next_event_id += 1
            self._rearm(connection, arn, run_state, now)
            connection.execute(update(engine_executions).where(engine_executions.c.arn == arn).values(
                status=RUNNING, output=None, error=None, cause=None, stop_time=None,
                run_state=dumps(run_state.to_json()), event_count=run_state.next_event_id - 1,
                redrive_count=redrive_count, redrive_time=to_datetime(now), redrive_state=None,
                wake_at=next_wake(connection, arn),
            ))
            record_status(connection, arn, RUNNING)
            info = self._execution(connection, arn)
        self.work_ready()
        return info

    # ------------------------------------------------------------------ callbacks

    def send_task_success(self, token: str, output: Any) -> None:
        """Complete the `.waitForTaskToken` task holding `token` with `output`."""
        if isinstance(output, str):
            output = _parse_input(output)
        self._callback(token, TaskOutcome(output=output))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """Fail the `.waitForTaskToken` task holding `token` with `error`/`cause`."""
        self._callback(token, TaskOutcome(error=error or "", cause=cause))

    def send_task_heartbeat(self, token: str) -> None:
        """Restart the HeartbeatSeconds clock of the task holding `token` (adds no history)."""
        now = time.time()
        with self.store.begin() as connection:
            task = self._task_by_token(connection, token)
            if task["heartbeat_seconds"] is None:
                return
            row = lock_execution(connection, task["execution_arn"])
            if is_running(row):
                assert row is not None
                machine = self.machines.get(connection, row["revision_id"])
                advance(connection, machine, row["arn"], row["id"], row["run_state"],
                        [TaskHeartbeat(task["task_id"])], now)

    # ------------------------------------------------------------------ EXPRESS leases

    def claim_express(self, arn: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease on a RUNNING EXPRESS execution whose lease is free or expired."""
        now = time.time()
        with self.store.begin() as connection:
            return bool(connection.execute(_CLAIM_EXPRESS, {
                "b_arn": arn, "b_now": now, "lease_owner": owner, "lease_expiry": now + lease_seconds,
            }).rowcount)

    # ------------------------------------------------------------------ internals

    def _callback(self, token: str, outcome: TaskOutcome) -> None:
        now = time.time()
        with self.store.begin() as connection:
            task = self._task_by_token(connection, token)
            row = lock_execution(connection, task["execution_arn"])
            if not is_running(row) or not record_outcome(
                connection, task["execution_arn"], task["task_id"], outcome, now,
                accept=("RUNNING", "WAITING"),
            ):
                raise ConflictError(
                    "the task of this token is no longer waiting (it completed, timed out or its "
                    "execution ended)",
                    code="TaskTimedOut",
                )
            assert row is not None
            event = (
                TaskFailed(task["task_id"], outcome.error, outcome.cause) if outcome.failed
                else TaskSucceeded(task["task_id"], outcome.output)
            )
            machine = self.machines.get(connection, row["revision_id"])
            advance(connection, machine, row["arn"], row["id"], row["run_state"], [event], now)
        self.work_ready()

    def _task_by_token(self, connection: Connection, token: str) -> RowMapping:
        task = connection.execute(
            select(engine_tasks).where(engine_tasks.c.token == token)
        ).mappings().first()
        if task is None:
            raise NotFoundError("no task has this token", code="InvalidToken")
        if task["status"] not in ("RUNNING", "WAITING"):
            raise ConflictError(
                f"the task of this token is {task['status']}, no longer waiting", code="TaskTimedOut"
            )
        return task

    def start_event(self, arn: str, payload: Any, redrive_count: int) -> StartExecution:
        machine, name = arns.parse_execution(arn) or ("", "")
        return StartExecution(
            input=payload, execution_arn=arn, execution_name=name,
            state_machine_arn=arns.state_machine_arn(machine), state_machine_name=machine,
            role_arn="arn:aws:iam::000000000000:role/podium", seed=random.getrandbits(31),
            redrive_count=redrive_count,
        )

    def _rearm(self, connection: Connection, arn: str, run_state: RunState, now: float) -> None:
        """Before a redrive: run again the tasks and restart the timers pending before the failure."""
        machine_timeout = None
        tasks = {
            row["task_id"]: row for row in connection.execute(
                select(engine_tasks).where(engine_tasks.c.execution_arn == arn)
            ).mappings()
        }
        for task_id in run_state.tasks:
            task = tasks.get(task_id)
            if task is None:
                continue
            connection.execute(update(engine_tasks).where(
                (engine_tasks.c.execution_arn == arn) & (engine_tasks.c.task_id == task_id)
            ).values(status="SCHEDULED", lease_owner=None, lease_expiry=None, finished_at=None))
        connection.execute(delete(engine_timers).where(engine_timers.c.execution_arn == arn))
        rows = []
        for timer_id, entry in run_state.timers.items():
            kind, due = entry[0], now
            if kind == "task-heartbeat":
                due = now + entry[2]
            elif kind == "task-timeout":
                task = tasks.get(timer_id.removeprefix("timeout-"))
                due = now + (task["timeout_seconds"] or 0) if task is not None else now
            elif kind == "execution":
                machine_timeout = self.machines.get(
                    connection, self._execution_row(connection, arn)["revision_id"]
                ).timeout_seconds
                due = now + (machine_timeout or 0)
            rows.append({"execution_arn": arn, "timer_id": timer_id, "due": due})
        if rows:
            connection.execute(insert(engine_timers), rows)

    def _existing(
        self, connection: Connection, machine: str, name: str, input_text: str
    ) -> ExecutionInfo | None:
        row = connection.execute(_BY_NAME, {"b_machine": machine, "b_name": name}).mappings().first()
        if row is None:
            return None
        if json.loads(row["input"]) != json.loads(input_text):
            raise ConflictError(
                f"execution {name!r} of {machine!r} already exists with a different input",
                code="ExecutionAlreadyExists",
            )
        return _execution_info(row)

    def _resolve(
        self, connection: Connection, target: arns.Target, machine_row: RowMapping
    ) -> tuple[str, int | None, str | None]:
        """(revision id, version, alias) that a start of `target` runs."""
        if target.alias is not None:
            alias = self._alias(connection, target.state_machine, target.alias)
            versions = [route["version"] for route in alias.routing]
            weights = [route["weight"] for route in alias.routing]
            version = random.choices(versions, weights=weights)[0]
            return self._version_revision(connection, target.state_machine, version), version, target.alias
        if target.version is not None:
            return (
                self._version_revision(connection, target.state_machine, target.version),
                target.version,
                None,
            )
        return machine_row["revision_id"], None, None

    def _version_revision(self, connection: Connection, name: str, version: int) -> str:
        revision = connection.execute(select(engine_versions.c.revision_id).where(
            (engine_versions.c.state_machine == name) & (engine_versions.c.version == version)
        )).scalar_one_or_none()
        if revision is None:
            raise NotFoundError(f"state machine {name!r} has no version {version}",
                                code="ResourceNotFound")
        return str(revision)

    def _publish(self, connection: Connection, name: str, description: str) -> VersionInfo:
        row = self._machine_row(connection, name)
        latest = connection.execute(
            select(engine_versions).where(engine_versions.c.state_machine == name)
            .order_by(engine_versions.c.version.desc()).limit(1)
        ).mappings().first()
        if latest is not None and latest["revision_id"] == row["revision_id"]:
            return _version_info(latest)
        number = (latest["version"] if latest is not None else 0) + 1
        connection.execute(insert(engine_versions).values(
            state_machine=name, version=number, definition=row["definition"], type=row["type"],
            revision_id=row["revision_id"], description=description, created_at=datetime.now(UTC),
        ))
        created = connection.execute(select(engine_versions).where(
            (engine_versions.c.state_machine == name) & (engine_versions.c.version == number)
        )).mappings().one()
        return _version_info(created)

    def _check_routing(
        self, connection: Connection, name: str, routing: Sequence[Mapping[str, Any]] | Mapping[int, int]
    ) -> list[dict[str, int]]:
        if isinstance(routing, Mapping):
            routes = [{"version": int(v), "weight": int(w)} for v, w in routing.items()]
        else:
            routes = [{"version": int(r["version"]), "weight": int(r["weight"])} for r in routing]
        if not 1 <= len(routes) <= 2:
            raise ValidationError("an alias routes to one or two versions", code="ValidationException")
        if len({r["version"] for r in routes}) != len(routes):
            raise ValidationError("an alias cannot route to the same version twice",
                                  code="ValidationException")
        if any(not 0 <= r["weight"] <= 100 for r in routes) or sum(r["weight"] for r in routes) != 100:
            raise ValidationError("alias weights must be 0-100 and sum to 100",
                                  code="ValidationException")
        for route in routes:
            self._version_revision(connection, name, route["version"])
        return routes

    def _alias_rows(self, connection: Connection, name: str) -> list[RowMapping]:
        return list(connection.execute(
            select(engine_aliases).where(engine_aliases.c.state_machine == name)
            .order_by(engine_aliases.c.name)
        ).mappings())

    def _alias(self, connection: Connection, name: str, alias: str) -> AliasInfo:
        row = connection.execute(select(engine_aliases).where(
            (engine_aliases.c.state_machine == name) & (engine_aliases.c.name == alias)
        )).mappings().first()
        if row is None:
            raise NotFoundError(f"state machine {name!r} has no alias {alias!r}", code="ResourceNotFound")
        return _alias_info(row)

    def _machine_row(
        self, connection: Connection, name: str, *, required: bool = True
    ) -> RowMapping:
        row = connection.execute(_MACHINE, {"b_name": name}).mappings().first()
        if row is None and required:
            raise NotFoundError(
                f"state machine {name!r} does not exist (list them with `podium workflow list`)",
                code="StateMachineDoesNotExist",
            )
        return row  # type: ignore[return-value]

    def _execution_row(self, connection: Connection, arn: str) -> RowMapping:
        row = connection.execute(_EXECUTION_ROW, {"b_arn": arn}).mappings().first()
        if row is None:
            raise NotFoundError(f"execution {arn!r} does not exist", code="ExecutionDoesNotExist")
        return row

    def _execution(self, connection: Connection, arn: str) -> ExecutionInfo:
        return _execution_info(self._execution_row(connection, arn))

    def count_executions(self, status: str | None = None) -> int:
        query = select(func.count()).select_from(engine_executions)
        if status:
            query = query.where(engine_executions.c.status == status)
        with self.store.connect() as connection:
            return int(connection.execute(query).scalar_one())


# ---------------------------------------------------------------------- helpers


def _definition_doc(definition: Mapping[str, Any] | str) -> dict[str, Any]:
    """Parse (JSON or YAML), validate and compile the definition: a bad one is never stored.

    Validation reports every problem at once (ValidationError code InvalidDefinition, with
    each problem's JSON location in `details`).
    """
    from podium.asl.loader import load_definition_text
    from podium.asl.validate import check

    if isinstance(definition, str):
        definition = load_definition_text(definition)
    check(definition)
    compile_definition(definition)
    normalised: dict[str, Any] = json.loads(dumps(definition))
    return normalised


def _check_type(value: str) -> str:
    upper = value.upper()
    if upper not in WORKFLOW_TYPES:
        raise ValidationError(f"type must be STANDARD or EXPRESS, got {value!r}", code="InvalidType")
    return upper


def _revision_id(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def _save_revision(connection: Connection, name: str, revision: str, doc: Any, now: datetime) -> None:
    exists = connection.execute(
        select(engine_revisions.c.revision_id).where(engine_revisions.c.revision_id == revision)
    ).first()
    if exists is None:
        connection.execute(insert(engine_revisions).values(
            revision_id=revision, state_machine=name, definition=dumps(doc), created_at=now
        ))


def _parse_input(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"input is not valid JSON: {exc}", code="InvalidExecutionInput") from None


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1-{MAX_PAGE}, got {limit}")
    return limit


def page_token(value: int) -> str:
    """The opaque next_token for a position: a list offset, or the id of the last history event seen."""
    return base64.urlsafe_b64encode(str(value).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise ValidationError("next_token is not one this API returned", code="InvalidToken") from None


def _utc(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _machine_info(row: RowMapping) -> StateMachineInfo:
    return StateMachineInfo(
        name=row["name"], arn=row["arn"], type=row["type"], definition=json.loads(row["definition"]),
        description=row["description"], revision_id=row["revision_id"],
        created_at=_utc(row["created_at"]), updated_at=_utc(row["updated_at"]),  # type: ignore[arg-type]
    )


def _version_info(row: RowMapping) -> VersionInfo:
    return VersionInfo(
        state_machine=row["state_machine"], version=row["version"],
        arn=f"{arns.state_machine_arn(row['state_machine'])}:{row['version']}", type=row["type"],
        revision_id=row["revision_id"], description=row["description"],
        created_at=_utc(row["created_at"]), definition=json.loads(row["definition"]),  # type: ignore[arg-type]
    )


def _alias_info(row: RowMapping) -> AliasInfo:
    return AliasInfo(
        state_machine=row["state_machine"], name=row["name"],
        arn=f"{arns.state_machine_arn(row['state_machine'])}:{row['name']}",
        routing=json.loads(row["routing"]), description=row["description"],
        created_at=_utc(row["created_at"]), updated_at=_utc(row["updated_at"]),  # type: ignore[arg-type]
    )


def _execution_info(row: RowMapping) -> ExecutionInfo:
    return ExecutionInfo(
        arn=row["arn"], name=row["name"], state_machine=row["state_machine"], type=row["type"],
        status=row["status"], input=json.loads(row["input"]),
        output=json.loads(row["output"]) if row["output"] is not None else None,
        error=row["error"], cause=row["cause"], start_time=_utc(row["start_time"]),  # type: ignore[arg-type]
        stop_time=_utc(row["stop_time"]), version=row["version"], alias=row["alias"],
        redrive_count=row["redrive_count"], revision_id=row["revision_id"],
    )


def _history_records(row: RowMapping) -> list[HistoryRecord]:
    """The events of one engine_history row (a transition's), in id order."""
    first, timestamp = row["id"], _utc(row["timestamp"])
    assert timestamp is not None  # the column is NOT NULL
    return [
        HistoryRecord(id=first + offset, previous_event_id=previous, type=kind, timestamp=timestamp, details=details)
        for offset, (previous, kind, details) in enumerate(json.loads(row["events"]))
    ]
