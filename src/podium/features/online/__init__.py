"""Online feature stores: the latest record per entity, by URL (sqlite:///… or redis://…)."""

from __future__ import annotations

from urllib.parse import urlsplit

from podium.errors import ConfigError
from podium.features.online.base import OnlineRecord, OnlineStore


def open_online_store(url: str, *, redis_prefix: str = "podium:features:") -> OnlineStore:
    """The online store configured by `url` (Settings.online_store_url)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from podium.features.online.sqlite import SQLiteOnlineStore

        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"online_store_url {url!r}: use sqlite:///path/to/online.db")
        return SQLiteOnlineStore(path)
    if scheme in ("redis", "rediss"):
        from podium.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(url, prefix=redis_prefix)
    raise ConfigError(f"online_store_url {url!r}: use sqlite:///path/online.db or redis://host:6379/0")


__all__ = ["OnlineRecord", "OnlineStore", "open_online_store"]
