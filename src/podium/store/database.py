"""The metadata store: one SQLAlchemy engine on SQLite (WAL) or PostgreSQL, migrated on open."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from podium.errors import BackendUnavailableError, ConfigError, MissingDependencyError
from podium.store import migrate
from podium.store.tables.core import core_info

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Store:
    """A handle on the metadata database.

    `begin()` opens a write transaction: on SQLite it takes the write lock at once
    (BEGIN IMMEDIATE), so two writers queue instead of failing halfway when one tries
    to upgrade a read lock. `connect()` is for reads and for callers that manage their
    own transactions.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                yield connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def ping(self, origin: str | None = None) -> None:
        """Connect once; an unreachable database becomes a one-line BackendUnavailableError."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise _unreachable(self, exc, origin) from None

    def info(self, key: str) -> str | None:
        with self.connect() as connection:
            return connection.execute(
                select(core_info.c.value).where(core_info.c.key == key)
            ).scalar_one_or_none()

    def dispose(self) -> None:
        self.engine.dispose()


def create_store_engine(url: str) -> Engine:
    """An Engine for `url` with Podium's connection settings; does not connect."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"metadata_url {url!r} is not a valid database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingDependencyError.for_extra(
                "psycopg", "postgres", "A PostgreSQL metadata store"
            ) from None
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(f"metadata_url {url!r}: only sqlite and postgresql are supported")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin/commit drive transactions rather than the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        # On the driver: exec_driver_sql's execution machinery cost ~5x the statement itself,
        # on every transaction (the engine's worker runs one per Task).
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        driver = connection.connection.driver_connection
        if driver.in_transaction:  # type: ignore[union-attr]
            return  # begun on the driver by its owner (the engine's worker): this joins it
        try:
            driver.execute(statement).close()  # type: ignore[union-attr]
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, read-only, ...
            raise OperationalError(statement, None, exc) from exc


def open_store(target: Any, *, upgrade: bool = True) -> Store:
    """Open the metadata store for a Settings object or a URL, migrating it to head."""
    if isinstance(target, str):
        url, origin = target, None
    else:
        url, origin = target.metadata_url, _origin(target)
    engine = create_store_engine(url)
    store = Store(engine)
    if upgrade:
        try:
            migrate.upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise _unreachable(store, exc, origin) from None
        _record_identity(store)
    return store


def _origin(settings: Any) -> str:
    source = settings.config_file or "the default settings"
    return f"setting 'metadata_url' in {source}"


def _unreachable(store: Store, exc: OperationalError, origin: str | None) -> BackendUnavailableError:
    lines = str(exc.orig).strip().splitlines() if exc.orig else [str(exc)]
    reason = lines[0] if lines else type(exc).__name__
    where = f" ({origin})" if origin else ""
    return BackendUnavailableError(f"metadata store {store.url}{where} is not reachable: {reason}")


def _record_identity(store: Store) -> None:
    if store.info("store_id") is not None:
        return
    from podium import __version__

    now = datetime.now(UTC)
    rows = {"store_id": uuid.uuid4().hex, "created_at": now.isoformat(), "created_by": __version__}
    dialect_insert: Any
    if store.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    with store.begin() as connection:
        for key, value in rows.items():
            connection.execute(
                dialect_insert(core_info)
                .values(key=key, value=value, updated_at=now)
                .on_conflict_do_nothing(index_elements=["key"])
            )
