from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import ConfigError
from podium.ingest.streams import open_streams
from podium.ingest.streams.embedded import EmbeddedLogBackend


def test_embedded_url_options(tmp_path: Path) -> None:
    client = open_streams("embedded?fsync=always&segment_mb=2&fsync_interval_ms=10", home=tmp_path)
    backend = client.backend
    assert isinstance(backend, EmbeddedLogBackend)
    assert backend.root == tmp_path / "streams"
    assert (backend.options.fsync, backend.options.segment_bytes) == ("always", 2 * 1024 * 1024)
    client.create_stream("s")
    assert (tmp_path / "streams" / "s" / "meta.json").exists()
    client.close()


@pytest.mark.redis
def test_redis_url_with_prefix(redis_prefix: str) -> None:
    client = open_streams(f"redis://127.0.0.1:6379/0?prefix={redis_prefix}")
    client.create_stream("s")
    assert client.backend.prefix == redis_prefix  # type: ignore[attr-defined]
    assert client.list_streams() == ["s"]
    client.close()


@pytest.mark.parametrize("url", ["kafka://x", "embedded?bogus=1", "embedded?segment_mb=x"])
def test_bad_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError):
        open_streams(url, home=tmp_path)


def test_embedded_needs_a_home() -> None:
    with pytest.raises(ConfigError, match="home"):
        open_streams("embedded")


def test_throughput_limits_are_url_settings(tmp_path: Path) -> None:
    client = open_streams("embedded?shard_read_tps=5&shard_read_bytes_per_s=2097152&shard_records_per_s=1000", home=tmp_path)
    assert client.limits.shard_read_tps == 5
    assert client.limits.shard_read_bytes_per_s == 2 * 1024 * 1024
    assert client.limits.shard_records_per_s == 1000 and client.limits.shard_bytes_per_s is None
    client.close()
    with pytest.raises(ConfigError, match="shard_read_tps"):
        open_streams("embedded?shard_read_tps=zero", home=tmp_path)
    with pytest.raises(ConfigError, match="unknown option"):
        open_streams("redis://127.0.0.1:6379/0?prefx=typo")
