"""Stream creation and resharding as pure functions on `StreamMeta`.

Every change closes parent shards at their last sequence number and opens children whose
sequence numbers start above it, recording `ParentShardId`/`AdjacentParentShardId`. Readers
that finish parents before children (as the consumer does) therefore keep per-key order
across a reshard. The backend supplies the parents' last sequence numbers while it holds the
stream's write lock, so no record can land in a parent after it is closed.
"""

from __future__ import annotations

from collections.abc import Mapping

from podium.errors import ConflictError, ValidationError
from podium.ingest.streams.model import MAX_RETENTION_HOURS, ShardMeta, StreamMeta
from podium.ingest.streams.routing import MAX_HASH_KEY, even_ranges


def shard_name(index: int) -> str:
    return f"shardId-{index:012d}"


def check_stream_name(name: str) -> None:
    ok = 1 <= len(name) <= 128 and all(c.isalnum() or c in "_.-" for c in name)
    if not ok:
        raise ValidationError(
            f"stream name '{name}' must be 1-128 characters of letters, digits, '_', '.' or '-'",
            code="InvalidArgument",
        )


def check_retention(hours: int) -> None:
    if not 1 <= hours <= MAX_RETENTION_HOURS:
        raise ValidationError(
            f"retention must be 1 to {MAX_RETENTION_HOURS} hours, got {hours}",
            code="InvalidArgument",
        )


def new_stream(
    name: str, shard_count: int, now_ms: int, retention_hours: int, first_sequence: int = 1
) -> StreamMeta:
    check_stream_name(name)
    check_retention(retention_hours)
    if shard_count < 1:
        raise ValidationError(
            f"a stream needs at least one shard, got {shard_count}", code="InvalidArgument"
        )
    shards = tuple(
        ShardMeta(shard_name(i), lo, hi, starting_sequence=first_sequence)
        for i, (lo, hi) in enumerate(even_ranges(shard_count))
    )
    return StreamMeta(
        name=name,
        created_ms=now_ms,
        shards=shards,
        retention_hours=retention_hours,
        next_shard_index=shard_count,
    )


def _open_shard(meta: StreamMeta, shard_id: str) -> ShardMeta:
    shard = meta.shard(shard_id)
    if not shard.is_open:
        raise ConflictError(
            f"shard '{shard_id}' of stream '{meta.name}' is closed; only open shards can be "
            "split or merged",
            code="ResourceInUse",
        )
    return shard


def _close(shard: ShardMeta, last_sequences: Mapping[str, int], now_ms: int) -> ShardMeta:
    last = last_sequences.get(shard.shard_id, shard.starting_sequence - 1)
    return ShardMeta(
        shard.shard_id,
        shard.starting_hash_key,
        shard.ending_hash_key,
        shard.starting_sequence,
        shard.parent_shard_id,
        shard.adjacent_parent_shard_id,
        ending_sequence=max(last, shard.starting_sequence - 1),
        closed_at_ms=now_ms,
    )


def _replace(meta: StreamMeta, changed: list[ShardMeta], added: list[ShardMeta]) -> StreamMeta:
    by_id = {s.shard_id: s for s in changed}
    shards = tuple(by_id.get(s.shard_id, s) for s in meta.shards) + tuple(added)
    return meta.evolve(shards=shards, next_shard_index=meta.next_shard_index + len(added))


def split_shard(
    meta: StreamMeta,
    shard_id: str,
    new_starting_hash_key: int,
    last_sequences: Mapping[str, int],
    now_ms: int,
    floor: int = 0,
) -> StreamMeta:
    """Close `shard_id` and open two children split at `new_starting_hash_key`."""
    parent = _open_shard(meta, shard_id)
    if not parent.starting_hash_key < new_starting_hash_key <= parent.ending_hash_key:
        raise ValidationError(
            f"new starting hash key {new_starting_hash_key} must lie inside shard "
            f"'{shard_id}' ({parent.starting_hash_key + 1} to {parent.ending_hash_key})",
            code="InvalidArgument",
        )
    closed = _close(parent, last_sequences, now_ms)
    assert closed.ending_sequence is not None
    start = max(closed.ending_sequence + 1, floor)
    index = meta.next_shard_index
    low = ShardMeta(
        shard_name(index), parent.starting_hash_key, new_starting_hash_key - 1, start, shard_id
    )
    high = ShardMeta(
        shard_name(index + 1), new_starting_hash_key, parent.ending_hash_key, start, shard_id
    )
    return _replace(meta, [closed], [low, high])


def merge_shards(
    meta: StreamMeta,
    shard_id: str,
    adjacent_shard_id: str,
    last_sequences: Mapping[str, int],
    now_ms: int,
    floor: int = 0,
) -> StreamMeta:
    """Close two adjacent open shards and open one child covering both ranges."""
    a = _open_shard(meta, shard_id)
    b = _open_shard(meta, adjacent_shard_id)
    lo, hi = (a, b) if a.starting_hash_key < b.starting_hash_key else (b, a)
    if lo.ending_hash_key + 1 != hi.starting_hash_key:
        raise ValidationError(
            f"shards '{shard_id}' and '{adjacent_shard_id}' are not adjacent: their hash key "
            "ranges must touch to be merged",
            code="InvalidArgument",
        )
    ca, cb = _close(a, last_sequences, now_ms), _close(b, last_sequences, now_ms)
    assert ca.ending_sequence is not None and cb.ending_sequence is not None
    start = max(ca.ending_sequence + 1, cb.ending_sequence + 1, floor)
    child = ShardMeta(
        shard_name(meta.next_shard_index),
        lo.starting_hash_key,
        hi.ending_hash_key,
        start,
        parent_shard_id=shard_id,
        adjacent_parent_shard_id=adjacent_shard_id,
    )
    return _replace(meta, [ca, cb], [child])


def update_shard_count(
    meta: StreamMeta,
    target: int,
    last_sequences: Mapping[str, int],
    now_ms: int,
    floor: int = 0,
) -> StreamMeta:
    """Reach `target` open shards by pairwise splits and merges (UNIFORM_SCALING).

    As in Kinesis one call may at most double or halve the count. Splits halve the widest
    shards and merges join the narrowest adjacent pairs, so doubling or halving a uniform
    stream gives uniform shards again; other counts come out close to uniform.
    """
    current = meta.open_shards()
    n = len(current)
    if target < 1 or target > 2 * n or target * 2 < n:
        raise ValidationError(
            f"update_shard_count can go from {n} open shards to {max(1, (n + 1) // 2)}..{2 * n} "
            f"in one call, not {target}",
            code="InvalidArgument",
        )
    result = meta
    if target > n:
        widest = sorted(current, key=lambda s: (s.starting_hash_key - s.ending_hash_key, s.starting_hash_key))
        for shard in widest[: target - n]:
            middle = shard.starting_hash_key + (shard.ending_hash_key - shard.starting_hash_key + 1) // 2
            result = split_shard(result, shard.shard_id, middle, last_sequences, now_ms, floor)
    while len(result.open_shards()) > target:
        shards = result.open_shards()
        pairs = sorted(
            range(len(shards) - 1),
            key=lambda i: (shards[i + 1].ending_hash_key - shards[i].starting_hash_key, i),
        )
        i = pairs[0]
        result = merge_shards(
            result, shards[i].shard_id, shards[i + 1].shard_id, last_sequences, now_ms, floor
        )
    return result


def covers_hash_space(meta: StreamMeta) -> bool:
    expected = 0
    for s in meta.open_shards():
        if s.starting_hash_key != expected:
            return False
        expected = s.ending_hash_key + 1
    return expected == MAX_HASH_KEY + 1

