"""The online store on Redis, for serving from several machines (extra: podium[redis]).

Each record is one string key `<prefix><group>:<key>` whose value is a fixed-width order
(4 x 20 digits) followed by the payload, so a batch read is one MGET and the "newer wins"
check is a string comparison inside a Lua script (atomic on the server).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from podium.errors import BackendUnavailableError, MissingDependencyError
from podium.features.online.base import OnlineRecord

_WIDTH = 20
_ORDER_CHARS = 4 * _WIDTH
# Shifts every order component to a non-negative number so zero-padded decimal strings
# sort like the numbers (event times before 1970 are negative microseconds).
_OFFSET = 1 << 62
_TOMBSTONE = "~"
_PUT_SCRIPT = f"""
local stored = 0
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  local value = ARGV[i]
  if (not current) or string.sub(value, 1, {_ORDER_CHARS}) > string.sub(current, 1, {_ORDER_CHARS}) then
    redis.call('SET', key, value)
    stored = stored + 1
  end
end
return stored
"""
_CHUNK = 1000


def _encode(record: OnlineRecord) -> str:
    order = "".join(f"{value + _OFFSET:0{_WIDTH}d}" for value in record.order)
    return order + (_TOMBSTONE if record.payload is None else record.payload)


def _decode(raw: bytes | str | None) -> OnlineRecord | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    parts = [int(text[i:i + _WIDTH]) - _OFFSET for i in range(0, _ORDER_CHARS, _WIDTH)]
    payload = text[_ORDER_CHARS:]
    return OnlineRecord(parts[0], parts[1], parts[2], parts[3], None if payload == _TOMBSTONE else payload)


class RedisOnlineStore:
    """OnlineStore on Redis. Durability is Redis's: configure AOF (appendfsync) for it."""

    def __init__(self, url: str, prefix: str = "podium:features:", client: Any = None) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise MissingDependencyError.for_extra(
                    "redis", "redis", "The Redis online feature store"
                ) from None
            client = redis.Redis.from_url(url)
        self.url = url
        self.prefix = prefix
        self._client = client
        self._put = client.register_script(_PUT_SCRIPT)

    def _key(self, group: str, key: str) -> str:
        return f"{self.prefix}{group}:{key}"

    def put_latest(self, group: str, items: Sequence[tuple[str, OnlineRecord]]) -> int:
        stored = 0
        for start in range(0, len(items), _CHUNK):
            chunk = items[start:start + _CHUNK]
            stored += int(self._call(
                self._put,
                keys=[self._key(group, k) for k, _ in chunk],
                args=[_encode(r) for _, r in chunk],
            ))
        return stored

    def get(self, group: str, key: str) -> OnlineRecord | None:
        return _decode(self._call(self._client.get, self._key(group, key)))

    def get_many(self, group: str, keys: Sequence[str]) -> list[OnlineRecord | None]:
        if not keys:
            return []
        raw = self._call(self._client.mget, [self._key(group, k) for k in keys])
        return [_decode(value) for value in raw]

    def remove(self, group: str, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        return int(self._call(self._client.delete, *[self._key(group, k) for k in keys]))

    def drop_group(self, group: str) -> None:
        batch = []
        for key in self._client.scan_iter(match=f"{self.prefix}{group}:*", count=1000):
            batch.append(key)
            if len(batch) >= _CHUNK:
                self._call(self._client.delete, *batch)
                batch = []
        if batch:
            self._call(self._client.delete, *batch)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return method(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise BackendUnavailableError(
                f"the Redis online feature store at {self.url} cannot be reached: {exc}"
            ) from None
