"""The metadata store on SQLite and PostgreSQL: migrations, transactions, identity."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, text

from podium.errors import BackendUnavailableError, ConfigError
from podium.store import Store, create_store_engine, migrate, open_store
from podium.store.tables import metadata
from podium.store.tables.core import core_info


def test_open_migrates_to_every_head(any_store: Store) -> None:
    with any_store.connect() as connection:
        assert migrate.current_revisions(connection) == migrate.head_revisions()
    assert any_store.info("store_id")


def test_migrated_schema_matches_table_definitions(any_store: Store) -> None:
    with any_store.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_upgrade_from_first_revision_keeps_rows(any_store: Store) -> None:
    # Start over at the first revision, write a row, then upgrade to head.
    engine = any_store.engine
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(engine, "0001")
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) == {"0001"}
    now = datetime.now(UTC)
    with any_store.begin() as connection:
        connection.execute(insert(core_info).values(key="kept", value="yes", updated_at=now))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) == migrate.head_revisions()
        assert connection.execute(
            select(core_info.c.value).where(core_info.c.key == "kept")
        ).scalar_one() == "yes"


def test_reopen_keeps_identity(settings) -> None:  # type: ignore[no-untyped-def]
    first = open_store(settings)
    store_id = first.info("store_id")
    first.dispose()
    second = open_store(settings)
    assert second.info("store_id") == store_id
    second.dispose()


def test_failed_transaction_rolls_back(any_store: Store) -> None:
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError), any_store.begin() as connection:
        connection.execute(insert(core_info).values(key="ghost", value="x", updated_at=now))
        raise RuntimeError("boom")
    assert any_store.info("ghost") is None


def test_sqlite_is_in_wal_mode(store: Store) -> None:
    with store.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_concurrent_sqlite_writers_all_commit(store: Store) -> None:
    # BEGIN IMMEDIATE makes writers queue on the lock instead of failing with "database is locked".
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(20):
                with store.begin() as connection:
                    count = connection.execute(select(func.count()).select_from(core_info)).scalar_one()
                    connection.execute(
                        insert(core_info).values(
                            key=f"w{worker}-{i}", value=str(count), updated_at=datetime.now(UTC)
                        )
                    )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.connect() as connection:
        written = connection.execute(
            select(func.count()).select_from(core_info).where(core_info.c.key.like("w%"))
        ).scalar_one()
    assert written == 80


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailableError, match="not reachable"):
        open_store("postgresql+psycopg://postgres@127.0.0.1:1/nope?connect_timeout=2")


def test_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="only sqlite and postgresql"):
        create_store_engine("mysql://root@localhost/db")
