"""The online store contract: the latest record per entity, never regressed.

A record is stored under (group, key) where key is the group's encoded record identifier.
Records are ordered by `OnlineRecord.order` = (event time, write time, ingestion id, row in
ingestion): the same order that decides point-in-time winners offline, so the online value
of an entity is always the one a training set would pick at the end of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol


class OnlineRecord(NamedTuple):
    """One stored record. `payload` is the JSON of its feature values; None marks a
    soft-deleted record (a tombstone that still blocks older writes). A NamedTuple: a
    100-key read builds 100 of them, and a tuple is cheaper to build than a dataclass."""

    event_time_us: int
    write_time_us: int
    ingestion_id: int
    ingestion_row: int
    payload: str | None

    @property
    def order(self) -> tuple[int, int, int, int]:
        return (self.event_time_us, self.write_time_us, self.ingestion_id, self.ingestion_row)


class OnlineStore(Protocol):
    """Where online reads are served from. Implementations: sqlite.py, redis.py."""

    def put_latest(self, group: str, items: Sequence[tuple[str, OnlineRecord]]) -> int:
        """For each (key, record): atomically compare with the stored record of that key and
        replace it only if `record.order` is strictly greater (or none is stored). A record
        is never replaced by an older or equal one, whatever order calls arrive in, across
        processes. Returns how many were stored. When it returns, the stored ones are durable
        (survive a crash of this process)."""
        ...

    def get(self, group: str, key: str) -> OnlineRecord | None:
        """The stored record for key, tombstones included, or None. Reads a committed state."""
        ...

    def get_many(self, group: str, keys: Sequence[str]) -> list[OnlineRecord | None]:
        """`get` for each key, in the order given (None for missing), in few round trips."""
        ...

    def remove(self, group: str, keys: Sequence[str]) -> int:
        """Hard delete: forget these keys entirely (no tombstone). Returns how many existed."""
        ...

    def drop_group(self, group: str) -> None:
        """Forget every record of `group`."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
