from __future__ import annotations

import pytest

from podium.errors import ConflictError, ValidationError
from podium.ingest.streams import resharding
from podium.ingest.streams.routing import MAX_HASH_KEY


def stream(n: int = 2):  # type: ignore[no-untyped-def]
    return resharding.new_stream("s", n, now_ms=0, retention_hours=24)


def test_split_closes_parent_and_children_start_after_it() -> None:
    meta = stream(1)
    new = resharding.split_shard(meta, "shardId-000000000000", 2**127, {"shardId-000000000000": 41}, 5)
    parent = new.shard("shardId-000000000000")
    assert parent.ending_sequence == 41 and parent.closed_at_ms == 5
    low, high = new.shard("shardId-000000000001"), new.shard("shardId-000000000002")
    assert (low.starting_hash_key, low.ending_hash_key) == (0, 2**127 - 1)
    assert (high.starting_hash_key, high.ending_hash_key) == (2**127, MAX_HASH_KEY)
    assert low.parent_shard_id == high.parent_shard_id == "shardId-000000000000"
    assert low.starting_sequence == high.starting_sequence == 42
    assert new.version == meta.version + 1
    assert resharding.covers_hash_space(new)
    with pytest.raises(ConflictError):
        resharding.split_shard(new, "shardId-000000000000", 5, {}, 6)
    with pytest.raises(ValidationError):
        resharding.split_shard(new, "shardId-000000000001", 0, {}, 6)


def test_merge_needs_adjacent_shards() -> None:
    meta = stream(3)
    with pytest.raises(ValidationError, match="not adjacent"):
        resharding.merge_shards(meta, "shardId-000000000000", "shardId-000000000002", {}, 1)
    last = {"shardId-000000000001": 10, "shardId-000000000002": 7}
    new = resharding.merge_shards(meta, "shardId-000000000002", "shardId-000000000001", last, 1)
    child = new.shard("shardId-000000000003")
    assert child.parent_shard_id == "shardId-000000000002"
    assert child.adjacent_parent_shard_id == "shardId-000000000001"
    assert child.starting_sequence == 11
    assert new.shard("shardId-000000000001").ending_sequence == 10
    assert resharding.covers_hash_space(new)
    assert len(new.open_shards()) == 2


def test_empty_parent_ends_just_below_its_start() -> None:
    meta = stream(1)
    new = resharding.split_shard(meta, "shardId-000000000000", 2**127, {}, 1)
    assert new.shard("shardId-000000000000").ending_sequence == 0


@pytest.mark.parametrize(("start", "target"), [(4, 8), (4, 2), (4, 6), (3, 5), (5, 3), (1, 2)])
def test_update_shard_count(start: int, target: int) -> None:
    new = resharding.update_shard_count(stream(start), target, {}, 1)
    assert len(new.open_shards()) == target
    assert resharding.covers_hash_space(new)
    for shard in new.shards:
        assert len([p for p in (shard.parent_shard_id, shard.adjacent_parent_shard_id) if p]) <= 2


def test_doubling_stays_uniform() -> None:
    new = resharding.update_shard_count(stream(2), 4, {}, 1)
    widths = {s.ending_hash_key - s.starting_hash_key for s in new.open_shards()}
    assert max(widths) - min(widths) <= 1


def test_update_shard_count_limits() -> None:
    with pytest.raises(ValidationError):
        resharding.update_shard_count(stream(4), 9, {}, 1)
    with pytest.raises(ValidationError):
        resharding.update_shard_count(stream(4), 1, {}, 1)


def test_meta_json_round_trip() -> None:
    from podium.ingest.streams.model import StreamMeta

    meta = resharding.split_shard(stream(2), "shardId-000000000001", 2**127 + 5, {}, 3)
    assert StreamMeta.from_json(meta.to_json()) == meta


def test_names_and_retention_checked() -> None:
    with pytest.raises(ValidationError):
        resharding.new_stream("bad name!", 1, 0, 24)
    with pytest.raises(ValidationError):
        resharding.new_stream("s", 0, 0, 24)
    with pytest.raises(ValidationError):
        resharding.new_stream("s", 1, 0, 9000)
