"""The consumer lease table: who processes which shard, and how far it got.

This is KCL's DynamoDB lease table in the metadata store (`streams_leases`). Every write
that changes ownership bumps `lease_counter` and is conditional on the counter the writer
last saw, so exactly one worker wins a race for a lease, and a worker whose lease was taken
finds out on its next renew or checkpoint instead of overwriting the new owner's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, update

from podium.ingest.streams.model import ShardMeta
from podium.store import Store
from podium.store.tables.streams import streams_leases as T

TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
SHARD_END = "SHARD_END"


@dataclass(frozen=True)
class Lease:
    shard_id: str
    owner: str | None
    lease_counter: int
    checkpoint: str
    parent_shard_id: str | None
    adjacent_parent_shard_id: str | None
    expires_at_ms: int
    owner_switches: int

    def is_expired(self, now_ms: int) -> bool:
        return self.owner is None or self.expires_at_ms <= now_ms

    @property
    def finished(self) -> bool:
        return self.checkpoint == SHARD_END

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(p for p in (self.parent_shard_id, self.adjacent_parent_shard_id) if p)


class LeaseTable:
    """Leases of one consumer application on one stream."""

    def __init__(self, store: Store, application: str, stream: str) -> None:
        self.store = store
        self.application = application
        self.stream = stream

    def _key(self, shard_id: str) -> Any:
        return and_(
            T.c.application == self.application, T.c.stream == self.stream, T.c.shard_id == shard_id
        )

    def all(self) -> list[Lease]:
        query = (
            select(
                T.c.shard_id,
                T.c.owner,
                T.c.lease_counter,
                T.c.checkpoint,
                T.c.parent_shard_id,
                T.c.adjacent_parent_shard_id,
                T.c.expires_at_ms,
                T.c.owner_switches,
            )
            .where(T.c.application == self.application, T.c.stream == self.stream)
            .order_by(T.c.shard_id)
        )
        with self.store.connect() as conn:
            return [Lease(*row) for row in conn.execute(query)]

    def sync(self, shards: list[ShardMeta], initial_position: str) -> None:
        """Add a lease for every shard that has none. Shards whose parents have leases start
        at TRIM_HORIZON (their records follow the parents'); the others at the application's
        initial position, and with LATEST, shards already closed count as finished."""
        existing = {lease.shard_id for lease in self.all()}
        missing = [s for s in shards if s.shard_id not in existing]
        if not missing:
            return
        known = existing | {s.shard_id for s in shards}
        now = datetime.now(UTC)
        rows = []
        for shard in missing:
            has_parent = any(
                p in known for p in (shard.parent_shard_id, shard.adjacent_parent_shard_id) if p
            )
            if has_parent or initial_position == TRIM_HORIZON:
                checkpoint = TRIM_HORIZON
            else:
                checkpoint = LATEST if shard.is_open else SHARD_END
            rows.append(
                {
                    "application": self.application,
                    "stream": self.stream,
                    "shard_id": shard.shard_id,
                    "owner": None,
                    "lease_counter": 0,
                    "checkpoint": checkpoint,
                    "parent_shard_id": shard.parent_shard_id,
                    "adjacent_parent_shard_id": shard.adjacent_parent_shard_id,
                    "expires_at_ms": 0,
                    "owner_switches": 0,
                    "updated_at": now,
                }
            )
        insert: Any
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        with self.store.begin() as conn:
            conn.execute(insert(T).values(rows).on_conflict_do_nothing())

    def _conditional(self, lease: Lease, values: dict[str, Any], owner: str | None = None) -> bool:
        condition = and_(self._key(lease.shard_id), T.c.lease_counter == lease.lease_counter)
        if owner is not None:
            condition = and_(condition, T.c.owner == owner)
        values["updated_at"] = datetime.now(UTC)
        with self.store.begin() as conn:
            return conn.execute(update(T).where(condition).values(**values)).rowcount == 1

    def take(self, lease: Lease, owner: str, now_ms: int, duration_ms: int) -> Lease | None:
        """Become the owner, if nobody changed the lease since `lease` was read."""
        switches = lease.owner_switches + (lease.owner != owner)
        values = {
            "owner": owner,
            "lease_counter": lease.lease_counter + 1,
            "expires_at_ms": now_ms + duration_ms,
            "owner_switches": switches,
        }
        if not self._conditional(lease, dict(values)):
            return None
        return Lease(
            lease.shard_id,
            owner,
            lease.lease_counter + 1,
            lease.checkpoint,
            lease.parent_shard_id,
            lease.adjacent_parent_shard_id,
            now_ms + duration_ms,
            switches,
        )

    def renew(self, lease: Lease, owner: str, now_ms: int, duration_ms: int) -> Lease | None:
        """Extend a lease we hold; None if it was taken from us."""
        values = {"lease_counter": lease.lease_counter + 1, "expires_at_ms": now_ms + duration_ms}
        if not self._conditional(lease, values, owner):
            return None
        return Lease(
            lease.shard_id,
            owner,
            lease.lease_counter + 1,
            lease.checkpoint,
            lease.parent_shard_id,
            lease.adjacent_parent_shard_id,
            now_ms + duration_ms,
            lease.owner_switches,
        )

    def checkpoint(self, lease: Lease, owner: str, checkpoint: str) -> Lease | None:
        """Record progress on a lease we hold; None (nothing written) if it was taken."""
        if not self._conditional(lease, {"checkpoint": checkpoint}, owner):
            return None
        return Lease(
            lease.shard_id,
            owner,
            lease.lease_counter,
            checkpoint,
            lease.parent_shard_id,
            lease.adjacent_parent_shard_id,
            lease.expires_at_ms,
            lease.owner_switches,
        )

    def release(self, lease: Lease, owner: str) -> bool:
        """Give a lease up so that another worker can take it at once."""
        values = {"owner": None, "lease_counter": lease.lease_counter + 1, "expires_at_ms": 0}
        return self._conditional(lease, values, owner)
