"""Choosing a stream backend from a URL (`settings.streams_url`).

    embedded                          the log under <home>/streams (default)
    embedded?fsync=always&segment_mb=16
    redis://host:6379/0?prefix=podium:streams
    embedded?shard_read_tps=5&shard_read_bytes_per_s=2097152   (Kinesis's shard limits)

Throughput limits (`shard_records_per_s`, `shard_bytes_per_s`, `shard_read_tps`,
`shard_read_bytes_per_s`) may be given on either backend; they are off unless set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from podium.errors import ConfigError
from podium.ingest.streams.client import StreamsClient
from podium.ingest.streams.limits import StreamLimits

THROUGHPUT_OPTIONS = ("shard_records_per_s", "shard_bytes_per_s", "shard_read_tps", "shard_read_bytes_per_s")


def open_streams(
    url: str = "embedded",
    home: str | Path | None = None,
    limits: StreamLimits | None = None,
) -> StreamsClient:
    """A client over the backend `url` names; `home` is PODIUM_HOME for the embedded log."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    throughput: dict[str, int] = {}
    for key in THROUGHPUT_OPTIONS:
        if key in query:
            text = query.pop(key)
            if not text.isdigit() or int(text) < 1:
                raise ConfigError(f"streams_url '{url}': {key} must be a positive integer, got '{text}'")
            throughput[key] = int(text)
    if throughput:
        limits = replace(limits or StreamLimits(), **throughput)
    if parts.scheme in ("", "embedded") and parts.path in ("embedded", ""):
        from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions

        if home is None:
            raise ConfigError("the embedded stream log needs a home directory (PODIUM_HOME)")
        options: dict[str, Any] = {}
        try:
            if "fsync" in query:
                options["fsync"] = query.pop("fsync")
            if "fsync_interval_ms" in query:
                options["fsync_interval_ms"] = int(query.pop("fsync_interval_ms"))
            if "segment_mb" in query:
                options["segment_bytes"] = int(float(query.pop("segment_mb")) * 1024 * 1024)
        except ValueError as exc:
            raise ConfigError(f"streams_url '{url}': {exc}") from None
        if query:
            raise ConfigError(
                f"streams_url '{url}': unknown option(s) {', '.join(sorted(query))}; "
                f"known: fsync, fsync_interval_ms, segment_mb, {', '.join(THROUGHPUT_OPTIONS)}"
            )
        backend: Any = EmbeddedLogBackend(Path(home) / "streams", EmbeddedOptions(**options))
    elif parts.scheme in ("redis", "rediss"):
        from podium.ingest.streams.redis import RedisStreamsBackend

        prefix = query.pop("prefix", "podium:streams")
        if query:
            raise ConfigError(
                f"streams_url '{url}': unknown option(s) {', '.join(sorted(query))}; "
                f"known: prefix, {', '.join(THROUGHPUT_OPTIONS)}"
            )
        base_url = url.split("?", 1)[0]
        backend = RedisStreamsBackend.from_url(base_url, prefix=prefix)
    else:
        raise ConfigError(
            f"streams_url '{url}' is not supported; use 'embedded' or 'redis://host:port/db'"
        )
    return StreamsClient(backend, limits)


def from_settings(settings: Any) -> StreamsClient:
    """A client for `podium.config.Settings` (streams_url + home)."""
    return open_streams(settings.streams_url, home=settings.home)
