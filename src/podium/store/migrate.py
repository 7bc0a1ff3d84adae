"""Apply the Alembic migrations of the metadata store, safely from several processes at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

_MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_LOCK_KEY = 7_261_530_019


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine, target: str = "heads") -> None:
    """Bring the schema to `target` (default: every area's head). A no-op when already there."""
    with _exclusive(engine):
        with engine.connect() as connection:
            if target == "heads" and current_revisions(connection) == head_revisions():
                return
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), target)


@contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock_connection:
            lock_connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            try:
                yield
            finally:
                lock_connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                lock_connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
