"""The engine's tables as migrated: partial indexes, and engine_0002 moving existing rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from podium.config import Settings
from podium.store import create_store_engine, migrate
from podium.store.database import Store

_TASK = (
    "INSERT INTO engine_tasks (execution_arn, task_id, resource, input, status, attempt, token,"
    " wait_for_token, timeout_seconds, heartbeat_seconds, lease_owner, lease_expiry, scheduled_at,"
    " finished_at) VALUES (:arn, :task, 'echo', '{}', :status, :attempt, :token, :waits, NULL, NULL,"
    " :owner, :expiry, 1.0, NULL)"
)
_EXECUTION = (
    "INSERT INTO engine_executions (arn, name, state_machine, revision_id, type, status, input,"
    " start_time, event_count, redrive_count) VALUES (:arn, :name, 'm', 'r', 'STANDARD', 'SUCCEEDED',"
    " '{}', :start, 2, 0)"
)
_HISTORY = (
    "INSERT INTO engine_history (execution_arn, id, previous_event_id, type, timestamp, details)"
    " VALUES (:arn, :id, :id - 1, 'PassStateEntered', :start, :details)"
)
_ATTEMPT = (
    "INSERT INTO engine_task_attempts (execution_arn, task_id, attempt, worker, status, started_at,"
    " finished_at) VALUES (:arn, :task, :attempt, :worker, :status, :started, :finished)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'old.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_store_engine(url)
    yield engine
    engine.dispose()


def _task(connection: Connection, task: str, status: str, attempt: int, token: str | None = None) -> None:
    connection.execute(text(_TASK), {
        "arn": "arn:x", "task": task, "status": status, "attempt": attempt, "token": token,
        "waits": token is not None, "owner": "w2" if status == "RUNNING" else None,
        "expiry": 99.0 if status == "RUNNING" else None,
    })


def test_engine_0002_moves_each_tasks_attempt_onto_its_row(database: Engine) -> None:
    migrate.upgrade(database, "engine_0001")
    with database.begin() as connection:
        _task(connection, "done", "SUCCEEDED", 1)
        _task(connection, "rerun", "RUNNING", 2, token="tok")
        _task(connection, "new", "SCHEDULED", 0)
        for task, attempt, worker, status, started in (
            ("done", 1, "w1", "SUCCEEDED", 10.0),
            ("rerun", 1, "w1", "ABANDONED", 20.0),
            ("rerun", 2, "w2", "RUNNING", 30.0),
        ):
            connection.execute(text(_ATTEMPT), {
                "arn": "arn:x", "task": task, "attempt": attempt, "worker": worker, "status": status,
                "started": started, "finished": None if status == "RUNNING" else started + 1,
            })
    migrate.upgrade(database)
    with database.connect() as connection:
        tasks = {row.task_id: (row.worker, row.started_at) for row in connection.execute(
            text("SELECT task_id, worker, started_at FROM engine_tasks"))}
        attempts = connection.execute(text(
            "SELECT task_id, attempt, worker, status FROM engine_task_attempts")).all()
    assert tasks == {"done": ("w1", 10.0), "rerun": ("w2", 30.0), "new": (None, None)}
    # Only the attempt that ended without a result stays a row of its own.
    assert [tuple(row) for row in attempts] == [("rerun", 1, "w1", "ABANDONED")]


def _old_executions(connection: Connection) -> None:
    """Two executions as engine_0001 kept them: `zz` started first, `aa` second."""
    for name, start in (("zz", "2026-01-01 00:00:00.000000"), ("aa", "2026-01-02 00:00:00.000000")):
        arn = f"arn:aws:states:local:000000000000:execution:m:{name}"
        connection.execute(text(_EXECUTION), {"arn": arn, "name": name, "start": start})
        for event in (1, 2):
            connection.execute(text(_HISTORY), {
                "arn": arn, "id": event, "start": start, "details": f'{{"{name}": {event}}}'})


def test_engine_0002_keys_history_by_an_execution_number_in_start_order(database: Engine, settings: Settings) -> None:
    from podium.engine import Engine as Workflows
    from podium.store import open_store

    migrate.upgrade(database, "engine_0001")
    with database.begin() as connection:
        _old_executions(connection)
    migrate.upgrade(database, "engine_0002")
    with database.connect() as connection:
        ids: dict[str, int] = dict(connection.execute(text("SELECT name, id FROM engine_executions")).all())
        history = connection.execute(text(
            "SELECT execution_id, id, details FROM engine_history ORDER BY execution_id, id")).all()
    assert ids == {"zz": 1, "aa": 2}
    assert [tuple(row) for row in history] == [
        (1, 1, '{"zz": 1}'), (1, 2, '{"zz": 2}'), (2, 1, '{"aa": 1}'), (2, 2, '{"aa": 2}')]
    migrate.upgrade(database)
    # A new execution takes the next number, and history reads find the old ones' events.
    store = open_store(database.url.render_as_string(hide_password=False))
    engine = Workflows(settings, store)
    engine.create_state_machine("m", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    run = engine.start_execution("m", {})
    with database.connect() as connection:
        assert connection.execute(text("SELECT id FROM engine_executions WHERE arn = :arn"),
                                  {"arn": run.arn}).scalar_one() == 3
    old = engine.get_execution_history("arn:aws:states:local:000000000000:execution:m:aa").items
    assert [(event.id, event.details) for event in old] == [(1, {"aa": 1}), (2, {"aa": 2})]
    assert [event.type for event in engine.get_execution_history(run.arn).items][0] == "ExecutionStarted"
    engine.close()
    store.dispose()


def test_engine_0002_downgrades_to_arn_keyed_history(database: Engine) -> None:
    from alembic import command

    migrate.upgrade(database, "engine_0001")
    with database.begin() as connection:
        _old_executions(connection)
    migrate.upgrade(database)
    with database.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "engine_0001")
    with database.connect() as connection:
        history = connection.execute(text(
            "SELECT execution_arn, id FROM engine_history ORDER BY execution_arn, id")).all()
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(engine_executions)"))] \
            if database.dialect.name == "sqlite" else []
    arn = "arn:aws:states:local:000000000000:execution:m:"
    assert [tuple(row) for row in history] == [(arn + "aa", 1), (arn + "aa", 2), (arn + "zz", 1), (arn + "zz", 2)]
    assert "id" not in columns


def test_engine_0003_makes_each_old_event_a_row_of_its_own_and_back(database: Engine, settings: Settings) -> None:
    """Old rows keep their details text inside the new events array; reads page through
    them and through a new execution's rows of several events; the downgrade splits every
    row into one per event again."""
    from alembic import command

    from podium.engine import Engine as Workflows
    from podium.store import open_store

    migrate.upgrade(database, "engine_0001")
    with database.begin() as connection:
        _old_executions(connection)
    migrate.upgrade(database)
    with database.connect() as connection:
        rows = connection.execute(text(
            "SELECT execution_id, id, last_id, events FROM engine_history ORDER BY execution_id, id")).all()
    assert [tuple(row) for row in rows] == [
        (1, 1, 1, '[[0,"PassStateEntered",{"zz": 1}]]'), (1, 2, 2, '[[1,"PassStateEntered",{"zz": 2}]]'),
        (2, 1, 1, '[[0,"PassStateEntered",{"aa": 1}]]'), (2, 2, 2, '[[1,"PassStateEntered",{"aa": 2}]]')]
    store = open_store(database.url.render_as_string(hide_password=False))
    engine = Workflows(settings, store)
    old = engine.get_execution_history("arn:aws:states:local:000000000000:execution:m:aa").items
    assert [(event.id, event.previous_event_id, event.type, event.details) for event in old] == [
        (1, 0, "PassStateEntered", {"aa": 1}), (2, 1, "PassStateEntered", {"aa": 2})]
    engine.create_state_machine("m", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}})
    run = engine.start_execution("m", {"x": 1})
    events = engine.get_execution_history(run.arn).items
    assert [event.id for event in events] == [1, 2, 3, 4, 5, 6]
    engine.close()
    store.dispose()
    with database.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "engine_0002")
    with database.connect() as connection:
        back = connection.execute(text(
            "SELECT execution_id, id, previous_event_id, type, details FROM engine_history"
            " ORDER BY execution_id, id")).all()
    assert [tuple(row) for row in back][:4] == [
        (1, 1, 0, "PassStateEntered", '{"zz":1}'), (1, 2, 1, "PassStateEntered", '{"zz":2}'),
        (2, 1, 0, "PassStateEntered", '{"aa":1}'), (2, 2, 1, "PassStateEntered", '{"aa":2}')]
    # The new execution's one row of six events is six rows again, as the engine read them.
    assert [(row[1], row[2], row[3]) for row in back[4:]] == [
        (event.id, event.previous_event_id, event.type) for event in events]


def test_tokens_stay_unique_and_tasks_without_one_share_no_index_entry(database: Engine) -> None:
    migrate.upgrade(database)
    with database.begin() as connection:
        _task(connection, "a", "RUNNING", 1, token="same")
        _task(connection, "b", "SUCCEEDED", 1)
        _task(connection, "c", "SUCCEEDED", 1)
    with pytest.raises(IntegrityError), database.begin() as connection:
        _task(connection, "d", "RUNNING", 1, token="same")
    if database.dialect.name == "sqlite":
        with database.connect() as connection:
            indexes: dict[str, str] = dict(connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'engine_tasks' AND sql IS NOT NULL"
                " AND type = 'index'")).all())
            # Finished tasks and tasks without a token are in neither index.
            assert indexes["ix_engine_tasks_token"].endswith("WHERE token IS NOT NULL")
            assert indexes["ix_engine_tasks_claim"].endswith("WHERE status IN ('SCHEDULED', 'RUNNING')")
            plan = connection.execute(text(
                "EXPLAIN QUERY PLAN SELECT * FROM engine_tasks WHERE token = 'same'")).all()
            assert "ix_engine_tasks_token" in str(plan)


def test_the_claim_and_renew_queries_search_the_partial_claim_index(store: Store) -> None:
    """SQLite uses a partial index only for a query whose WHERE names its condition."""
    from podium.engine.fastsql import Sql
    from podium.engine.worker import _CLAIMABLE, _RENEW

    with store.engine.connect() as connection:
        for statement, params in ((_CLAIMABLE.limit(5), {"b_now": 1.0}),
                                  (_RENEW, {"b_owner": "w", "lease_expiry": 2.0})):
            compiled = Sql(statement)._compile(connection.dialect)  # noqa: SLF001
            values = {**compiled.fixed, **params}
            driver: Any = connection.connection.driver_connection
            plan = driver.execute("EXPLAIN QUERY PLAN " + compiled.text, values).fetchall()
            assert "ix_engine_tasks_claim" in str(plan), plan
