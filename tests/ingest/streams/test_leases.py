from __future__ import annotations

from podium.ingest.streams import resharding
from podium.ingest.streams.leases import LATEST, SHARD_END, TRIM_HORIZON, LeaseTable
from podium.store import Store


def test_sync_take_renew_checkpoint_with_fencing(any_store: Store) -> None:
    meta = resharding.new_stream("s", 2, 0, 24)
    table = LeaseTable(any_store, "app", "s")
    table.sync(list(meta.shards), TRIM_HORIZON)
    table.sync(list(meta.shards), TRIM_HORIZON)  # idempotent
    leases = table.all()
    assert [lease.checkpoint for lease in leases] == [TRIM_HORIZON, TRIM_HORIZON]
    first = leases[0]
    assert first.is_expired(0)
    mine = table.take(first, "a", now_ms=1000, duration_ms=500)
    assert mine is not None and mine.owner == "a" and mine.lease_counter == 1
    assert table.take(first, "b", 1000, 500) is None  # stale counter: b lost the race
    stolen = table.take(mine, "b", 1100, 500)
    assert stolen is not None and stolen.owner_switches == 2
    # a's lease was taken: its renew and checkpoint are refused.
    assert table.renew(mine, "a", 1200, 500) is None
    assert table.checkpoint(mine, "a", "0001") is None
    saved = table.checkpoint(stolen, "b", "0042")
    assert saved is not None
    assert table.all()[0].checkpoint == "0042"
    assert table.release(saved, "b")
    assert table.all()[0].owner is None


def test_children_start_at_trim_horizon_and_latest_skips_closed(store: Store) -> None:
    meta = resharding.split_shard(resharding.new_stream("s", 1, 0, 24), "shardId-000000000000", 2**127, {}, 1)
    table = LeaseTable(store, "app", "s")
    table.sync(list(meta.shards), LATEST)
    by_id = {lease.shard_id: lease for lease in table.all()}
    assert by_id["shardId-000000000000"].checkpoint == SHARD_END
    assert by_id["shardId-000000000001"].checkpoint == TRIM_HORIZON
    assert by_id["shardId-000000000001"].parents == ("shardId-000000000000",)
