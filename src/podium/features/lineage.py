"""Lineage records: every write into a feature group and every training set built.

The models area reads these tables to connect a trained model to the feature data it saw:
an ingestion row says which source fed which group, when, and how many rows; a training-set
row says which groups (and as_of / event-time window) produced how many rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from podium.store import Store
from podium.store.tables.features import features_ingestions, features_training_sets

KIND_INGEST = "ingest"
KIND_PUT_RECORD = "put_record"
KIND_DELETE = "delete"
KIND_MATERIALIZE = "materialize"
KIND_STREAM = "stream"
KIND_CATALOG = "catalog"
KIND_BATCH = "batch"
COMPLETED = "completed"


@dataclass(frozen=True)
class Ingestion:
    """One recorded write into a group."""

    id: int
    group: str
    kind: str
    source: str
    status: str
    rows: int
    rows_online: int
    write_time: datetime
    started_at: datetime
    finished_at: datetime | None
    details: Mapping[str, Any] | None = None


class Lineage:
    """Append-mostly records of ingestions and training sets in the metadata store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start_ingestion(
        self, group: str, version: int, kind: str, source: str, write_time: datetime
    ) -> int:
        """Record a write as started and return its id, which orders it after earlier ones."""
        with self.store.begin() as conn:
            result = conn.execute(insert(features_ingestions).values(
                group_name=group, group_version=version, kind=kind, source=source,
                status="started", rows=0, rows_online=0, write_time=write_time,
                started_at=datetime.now(UTC),
            ))
            return _new_id(result)

    def finish_ingestion(
        self, ingestion_id: int, rows: int, rows_online: int, details: Mapping[str, Any] | None = None
    ) -> None:
        with self.store.begin() as conn:
            conn.execute(
                update(features_ingestions)
                .where(features_ingestions.c.id == ingestion_id)
                .values(status=COMPLETED, rows=rows, rows_online=rows_online,
                        finished_at=datetime.now(UTC), details=dict(details or {}))
            )

    def fail_ingestion(self, ingestion_id: int, reason: str) -> None:
        with self.store.begin() as conn:
            conn.execute(
                update(features_ingestions)
                .where(features_ingestions.c.id == ingestion_id)
                .values(status="failed", finished_at=datetime.now(UTC), details={"error": reason})
            )

    def abandon(self, ingestion_id: int, reason: str) -> None:
        """Mark a write whose files were removed so that it can be done again."""
        with self.store.begin() as conn:
            conn.execute(
                update(features_ingestions)
                .where(features_ingestions.c.id == ingestion_id)
                .values(status="abandoned", finished_at=datetime.now(UTC), details={"error": reason})
            )

    def completed_ids(self, group: str) -> set[int]:
        """Ids of the group's writes that completed (their files are final)."""
        with self.store.connect() as conn:
            return set(conn.execute(
                select(features_ingestions.c.id).where(
                    features_ingestions.c.group_name == group,
                    features_ingestions.c.status == COMPLETED,
                )
            ).scalars())

    def ingestions(
        self,
        group: str | None = None,
        *,
        kind: str | None = None,
        source: str | None = None,
        statuses: Sequence[str] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Ingestion]:
        order = features_ingestions.c.id.desc() if newest_first else features_ingestions.c.id
        query = select(features_ingestions).order_by(order)
        if group is not None:
            query = query.where(features_ingestions.c.group_name == group)
        if kind is not None:
            query = query.where(features_ingestions.c.kind == kind)
        if source is not None:
            query = query.where(features_ingestions.c.source == source)
        if statuses is not None:
            query = query.where(features_ingestions.c.status.in_(list(statuses)))
        if limit is not None:
            query = query.limit(limit)
        with self.store.connect() as conn:
            return [
                Ingestion(
                    id=r.id, group=r.group_name, kind=r.kind, source=r.source, status=r.status,
                    rows=r.rows, rows_online=r.rows_online, write_time=_utc(r.write_time),
                    started_at=_utc(r.started_at),
                    finished_at=_utc(r.finished_at) if r.finished_at else None,
                    details=r.details,
                )
                for r in conn.execute(query)
            ]

    def record_training_set(
        self,
        *,
        groups: Sequence[Mapping[str, Any]],
        entity_source: str,
        rows: int,
        status_counts: Mapping[str, Any],
        as_of: datetime | None,
        event_time_range: tuple[datetime | None, datetime | None],
        output: str | None,
        duration_seconds: float,
    ) -> int:
        with self.store.begin() as conn:
            result = conn.execute(insert(features_training_sets).values(
                groups=list(groups), entity_source=entity_source, rows=rows,
                status_counts=dict(status_counts), as_of=as_of,
                event_time_start=event_time_range[0], event_time_end=event_time_range[1],
                output=output, duration_seconds=duration_seconds, created_at=datetime.now(UTC),
            ))
            return _new_id(result)

    def training_sets(self) -> list[dict[str, Any]]:
        with self.store.connect() as conn:
            rows = conn.execute(select(features_training_sets).order_by(features_training_sets.c.id))
            return [dict(r._mapping) for r in rows]


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an INSERT into a table with an autoincrement key
    return int(key[0])


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time Podium stores is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
