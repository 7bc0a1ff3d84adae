"""Fixtures shared by every test: settings under a temporary PODIUM_HOME, and metadata stores.

`pg_store` gives each test its own PostgreSQL schema on the real server at
127.0.0.1:5432 (database `test`), dropped afterwards; it skips with the reason when the
server cannot be reached. `PODIUM_TEST_PG_URL` points it elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.config import Settings
from podium.store import Store, open_store

PG_URL = os.environ.get("PODIUM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _postgres_unreachable_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'podium[postgres]')"
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    try:
        with psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, dbname=url.database,
            connect_timeout=3,
        ):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {url.host}:{url.port} is not reachable: {str(exc).strip()[:200]}"


def redis_unreachable_reason() -> str | None:
    try:
        import redis
    except ImportError:
        return "redis-py is not installed (pip install 'podium[redis]')"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        return None
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.for_home(tmp_path / "podium-home")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.dispose()


def pg_schema_url(schema: str) -> str:
    """PG_URL with every connection's search_path set to `schema`."""
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema, dropped after the test."""
    reason = _postgres_unreachable_reason()
    if reason:
        pytest.skip(reason)
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    conninfo = dict(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_schema_url(schema)
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    opened = open_store(pg_url)
    yield opened
    opened.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(settings)
    else:
        opened = open_store(request.getfixturevalue("pg_url"))
    yield opened
    opened.dispose()


@pytest.fixture
def redis_url() -> str:
    reason = redis_unreachable_reason()
    if reason:
        pytest.skip(reason)
    return REDIS_URL


def child_pids(parent: int, marker: bytes) -> list[int]:
    """The processes whose parent is `parent` and whose command line contains `marker`
    (e.g. the model workers a `podium serve` process started), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and marker in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)
