"""Streams on Redis Streams, for producers and consumers on several machines.

Keys, under a prefix (default `podium:streams`):

    <prefix>:names                  set of stream names
    <prefix>:<stream>:meta          the stream metadata (JSON)
    <prefix>:<stream>:ver           its version, checked by every append
    <prefix>:<stream>:<shard id>    one Redis stream per shard

A Kinesis sequence number is the Redis stream id `ms-seq` packed as `ms * 10**20 + seq`, so
its string form is the id's two numbers zero-padded side by side, ordering is Redis's, and
the arrival time is the id's millisecond part. An append is one Lua script: it checks the
metadata version (a reshard bumps it under WATCH of the parent shards, so no record can land
in a closed parent) and XADDs every record, atomically for the whole call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from podium.errors import (
    BackendUnavailableError,
    ConflictError,
    MissingDependencyError,
    NotFoundError,
)
from podium.ingest.streams.base import MetaChange, StaleShardMapError
from podium.ingest.streams.model import ReadBatch, Record, ShardMeta, StreamMeta

SPLIT = 10**20

_APPEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
local out = {}
local a = 2
for k = 2, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  local ids = {}
  for i = 1, n do
    ids[i] = redis.call('XADD', KEYS[k], '*', 'k', ARGV[a], 'd', ARGV[a + 1])
    a = a + 2
  end
  out[k - 1] = ids
end
return out
"""


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:
        raise MissingDependencyError.for_extra("redis", "redis", "The Redis Streams backend") from None
    return redis


def id_to_seq(stream_id: bytes | str) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, seq = text.partition("-")
    return int(ms) * SPLIT + int(seq or 0)


def seq_to_id(position: int) -> str:
    ms, seq = divmod(position, SPLIT)
    if seq >= 2**64:
        ms, seq = ms + 1, 0
    return f"{ms}-{seq}"


class RedisStreamsBackend:
    """`StreamBackend` on Redis Streams; see the module docstring for the key layout."""

    def __init__(self, client: Any, prefix: str = "podium:streams") -> None:
        self._redis = client
        self.prefix = prefix
        self._append = client.register_script(_APPEND)
        self._retention_checked: dict[str, int] = {}

    @classmethod
    def from_url(cls, url: str, prefix: str = "podium:streams") -> RedisStreamsBackend:
        redis = _import_redis()
        return cls(redis.Redis.from_url(url), prefix)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        redis = _import_redis()
        try:
            return fn(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise BackendUnavailableError(
                f"Redis for streams is unreachable ({exc}); check streams_url and that the "
                "server runs"
            ) from exc

    def _server_ms(self) -> int:
        secs, micros = self._call(self._redis.time)
        return int(secs) * 1000 + int(micros) // 1000

    def first_sequence(self) -> int:
        return self._server_ms() * SPLIT

    # -- metadata -------------------------------------------------------------------------

    def create_stream(self, meta: StreamMeta) -> StreamMeta:
        created = self._call(
            self._redis.set, self._key(meta.name, "meta"), json.dumps(meta.to_json()), nx=True
        )
        if not created:
            raise ConflictError(f"stream '{meta.name}' already exists", code="ResourceInUse")
        pipe = self._redis.pipeline()
        pipe.set(self._key(meta.name, "ver"), meta.version)
        pipe.sadd(self._key("names"), meta.name)
        self._call(pipe.execute)
        return meta

    def load_stream(self, name: str) -> StreamMeta:
        raw = self._call(self._redis.get, self._key(name, "meta"))
        if raw is None:
            raise NotFoundError(
                f"stream '{name}' does not exist; create it with `podium stream create {name}`",
                code="ResourceNotFound",
            )
        return StreamMeta.from_json(json.loads(raw))

    def list_streams(self) -> list[str]:
        names = self._call(self._redis.smembers, self._key("names"))
        return sorted(n.decode() for n in names)

    def delete_stream(self, name: str) -> None:
        meta = self.load_stream(name)
        keys = [self._key(name, "meta"), self._key(name, "ver")]
        keys += [self._key(name, s.shard_id) for s in meta.shards]
        pipe = self._redis.pipeline()
        pipe.delete(*keys)
        pipe.srem(self._key("names"), name)
        self._call(pipe.execute)

    def update_stream(self, name: str, change: MetaChange) -> StreamMeta:
        redis = _import_redis()
        meta_key, ver_key = self._key(name, "meta"), self._key(name, "ver")
        while True:
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(meta_key, ver_key)
                    meta = self.load_stream(name)
                    shard_keys = {s.shard_id: self._key(name, s.shard_id) for s in meta.open_shards()}
                    if shard_keys:
                        pipe.watch(meta_key, ver_key, *shard_keys.values())
                    last = {}
                    for shard_id, key in shard_keys.items():
                        newest = pipe.xrevrange(key, "+", "-", count=1)
                        if newest:
                            last[shard_id] = id_to_seq(newest[0][0])
                    floor = self._server_ms() * SPLIT
                    new_meta = change(meta, last, floor)
                    pipe.multi()
                    pipe.set(meta_key, json.dumps(new_meta.to_json()))
                    pipe.set(ver_key, new_meta.version)
                    pipe.execute()
                    return new_meta
                except redis.WatchError:
                    continue
                except redis.ConnectionError as exc:
                    raise BackendUnavailableError(f"Redis for streams is unreachable ({exc})") from exc

    # -- records --------------------------------------------------------------------------

    def append(
        self, meta: StreamMeta, batches: Mapping[str, Sequence[tuple[str, bytes]]]
    ) -> dict[str, list[int] | Exception]:
        keys = [self._key(meta.name, "ver")]
        args: list[Any] = [meta.version]
        order = []
        for shard_id, items in batches.items():
            keys.append(self._key(meta.name, shard_id))
            args.append(len(items))
            for key, data in items:
                args.append(key)
                args.append(data)
            order.append(shard_id)
        ids = self._call(self._append, keys=keys, args=args)
        if ids is None:
            raise StaleShardMapError(
                f"stream '{meta.name}' changed since its shard map was read", code="StaleShardMap"
            )
        results: dict[str, list[int] | Exception] = {}
        for shard_id, shard_ids in zip(order, ids, strict=True):
            results[shard_id] = [id_to_seq(i) for i in shard_ids]
        self._maybe_trim(meta)
        return results

    def _maybe_trim(self, meta: StreamMeta) -> None:
        # Trimming on the write path (once a minute) keeps memory bounded without a daemon.
        last = self._retention_checked.get(meta.name, 0)
        now = self._server_ms()
        if now - last >= 60_000:
            self._retention_checked[meta.name] = now
            cutoff = now - meta.retention_hours * 3_600_000
            pipe = self._redis.pipeline(transaction=False)
            for shard in meta.open_shards():
                pipe.xtrim(self._key(meta.name, shard.shard_id), minid=f"{cutoff}-0")
            self._call(pipe.execute)

    def read(
        self,
        stream: str,
        shard: ShardMeta,
        position: int,
        limit: int,
        min_timestamp_ms: int,
        now_ms: int,
    ) -> ReadBatch:
        key = self._key(stream, shard.shard_id)
        start = max(position, min_timestamp_ms * SPLIT)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xrange(key, seq_to_id(start), "+", count=limit)
        pipe.xrevrange(key, "+", "-", count=1)
        entries, newest = self._call(pipe.execute)
        records: list[Record] = []
        append = records.append
        for stream_id, fields in entries:
            # The id's two numbers, zero-padded side by side, are the sequence number string
            # (format_sequence of ms * 10**20 + seq) without any integer arithmetic.
            ms, _, seq = stream_id.partition(b"-")
            append(
                Record(
                    (b"0" * (20 - len(ms)) + ms + b"0" * (20 - len(seq)) + seq).decode(),
                    int(ms),
                    fields[b"d"],
                    fields[b"k"].decode("utf-8"),
                )
            )
        next_position = int(records[-1].sequence_number) + 1 if records else start
        behind = 0
        if records and newest and id_to_seq(newest[0][0]) >= next_position:
            behind = max(0, now_ms - records[-1].approximate_arrival_timestamp)
        return ReadBatch(records, next_position, behind)

    def latest_position(self, stream: str, shard: ShardMeta) -> int:
        if shard.ending_sequence is not None:
            return shard.ending_sequence + 1
        newest = self._call(self._redis.xrevrange, self._key(stream, shard.shard_id), "+", "-", count=1)
        if not newest:
            return max(shard.starting_sequence, self.first_sequence())
        return id_to_seq(newest[0][0]) + 1

    def position_at_timestamp(self, stream: str, shard: ShardMeta, timestamp_ms: int) -> int:
        first = self._call(
            self._redis.xrange, self._key(stream, shard.shard_id), f"{timestamp_ms}-0", "+", count=1
        )
        if first:
            return id_to_seq(first[0][0])
        return self.latest_position(stream, shard)

    def enforce_retention(self, stream: str, now_ms: int) -> StreamMeta:
        meta = self.load_stream(stream)
        cutoff = now_ms - meta.retention_hours * 3_600_000
        pipe = self._redis.pipeline(transaction=False)
        for shard in meta.shards:
            key = self._key(stream, shard.shard_id)
            pipe.xtrim(key, minid=f"{cutoff}-0")
            pipe.xlen(key)
        replies = self._call(pipe.execute)
        lengths = dict(zip((s.shard_id for s in meta.shards), replies[1::2], strict=True))
        gone = {
            s.shard_id
            for s in meta.shards
            if not s.is_open and not s.expired and lengths[s.shard_id] == 0
            and (s.closed_at_ms or 0) < cutoff
        }
        if not gone:
            return meta

        def expire(current: StreamMeta, _last: Any, _floor: int) -> StreamMeta:
            from dataclasses import replace

            shards = tuple(replace(s, expired=True) if s.shard_id in gone else s for s in current.shards)
            return current.evolve(shards=shards)

        return self.update_stream(stream, expire)

    def close(self) -> None:
        self._redis.close()
