"""Fixtures: a streams client on the embedded log and on the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from podium.ingest.streams import StreamsClient
from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip():  # type: ignore[no-untyped-def]
    redis = pytest.importorskip("redis", reason="redis-py is not installed (extra [redis])")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis at 127.0.0.1:6379 is unreachable")
    return client


@pytest.fixture
def embedded_client(tmp_path) -> Iterator[StreamsClient]:  # type: ignore[no-untyped-def]
    client = StreamsClient(EmbeddedLogBackend(tmp_path / "streams", EmbeddedOptions(fsync="never")))
    yield client
    client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis_or_skip()
    prefix = f"podium-test:{uuid.uuid4().hex}"
    yield prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client(redis_prefix: str) -> Iterator[StreamsClient]:
    from podium.ingest.streams.redis import RedisStreamsBackend

    client = StreamsClient(RedisStreamsBackend.from_url(REDIS_URL, prefix=redis_prefix))
    yield client
    client.close()


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def client(request) -> StreamsClient:  # type: ignore[no-untyped-def]
    return request.getfixturevalue(f"{request.param}_client")
