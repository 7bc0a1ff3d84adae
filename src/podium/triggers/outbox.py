"""The outbox publisher: puts the events Podium's services recorded onto the bus, each once.

Producers record events in their own transactions (`podium.triggers.podium_events`), so an
event exists exactly when the change it describes was committed. `OutboxPublisher.publish()`
then, for each batch, puts the events on the bus (archive + rule deliveries) *and* marks
them published in one transaction: a crash before the commit leaves them pending and they
are published on the next call; after it, they are never published again. Rule deliveries
are then at-least-once with a stable idempotency key, like every bus delivery.

It reads three places:
- `triggers_outbox` (engine, batch, streams events): rows are deleted once published;
- `models_events` (the model registry's own outbox of approval changes): `published` is set;
- `serving_deployments` (the endpoint service's record of each deployment): a deployment
  whose outcome is final is announced once, remembered in `triggers_announced`.

On PostgreSQL several publishers share the work: outbox rows are taken with
`FOR UPDATE SKIP LOCKED`, and a deployment two publishers both see is announced by the
one whose insert into `triggers_announced` commits; the other's batch is rolled back and
retried on its next call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, cast, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.store.tables.models import models_events
from podium.store.tables.serving import serving_deployments
from podium.store.tables.triggers import triggers_announced, triggers_outbox
from podium.triggers.bus import MAX_ENTRIES, EventBus
from podium.triggers.podium_events import DEPLOYMENT, MODEL_PACKAGE, deployment_detail

log = logging.getLogger(__name__)

_FINAL_OUTCOMES = ("Succeeded", "RolledBack", "Failed")


class OutboxPublisher:
    def __init__(self, bus: EventBus, *, batch_size: int = 100) -> None:
        self.bus = bus
        self.store = bus.store
        self.batch_size = batch_size

    def publish(self) -> int:
        """Publish everything pending; returns the number of events put on the bus."""
        total = 0
        for batch in (self._outbox_batch, self._models_batch, self._deployments_batch):
            while True:
                try:
                    count = self._in_transaction(batch)
                except IntegrityError:
                    # Another publisher announced the same producer row first: ours rolled
                    # back whole, and the rest is picked up on the next call.
                    log.info("outbox: another publisher took this batch; retrying next time")
                    break
                total += count
                if count < self.batch_size:
                    break
        return total

    def _in_transaction(self, batch: Callable[[Connection], int]) -> int:
        with self.store.begin() as connection:
            return batch(connection)

    def _locking(self, query: Any) -> Any:
        return query.with_for_update(skip_locked=True) if self.store.dialect == "postgresql" else query

    def _put(self, connection: Connection, entries: list[dict[str, Any]]) -> None:
        for start in range(0, len(entries), MAX_ENTRIES):
            self.bus.put_events(entries[start : start + MAX_ENTRIES], connection=connection)

    def _outbox_batch(self, connection: Connection) -> int:
        t = triggers_outbox
        rows = connection.execute(
            self._locking(select(t).order_by(t.c.id).limit(self.batch_size))
        ).all()
        if not rows:
            return 0
        self._put(connection, [
            {
                "source": row.source,
                "detail-type": row.detail_type,
                "detail": json.loads(row.detail),
                "resources": json.loads(row.resources),
                "time": datetime.fromtimestamp(row.time, UTC),
            }
            for row in rows
        ])
        connection.execute(delete(t).where(t.c.id.in_([row.id for row in rows])))
        return len(rows)

    def _models_batch(self, connection: Connection) -> int:
        m = models_events
        rows = connection.execute(
            self._locking(
                select(m).where(m.c.published.is_(False)).order_by(m.c.id).limit(self.batch_size)
            )
        ).all()
        if not rows:
            return 0
        source = MODEL_PACKAGE[0]
        self._put(connection, [
            {
                "source": source,
                "detail-type": row.detail_type,
                "detail": row.detail,
                "resources": [row.resource],
                "time": row.time,
            }
            for row in rows
        ])
        connection.execute(update(m).where(m.c.id.in_([row.id for row in rows])).values(published=True))
        return len(rows)

    def _deployments_batch(self, connection: Connection) -> int:
        d, a = serving_deployments, triggers_announced
        source, detail_type = DEPLOYMENT
        announced = select(a.c.key).where(a.c.source == source)
        rows = connection.execute(
            select(d)
            .where(
                d.c.outcome.in_(_FINAL_OUTCOMES),
                cast(d.c.id, String).not_in(announced),
            )
            .order_by(d.c.id)
            .limit(self.batch_size)
        ).all()
        if not rows:
            return 0
        now = time.time()
        connection.execute(
            insert(a), [{"source": source, "key": str(row.id), "announced_at": now} for row in rows]
        )
        self._put(connection, [
            {
                "source": source,
                "detail-type": detail_type,
                "detail": deployment_detail(row),
                "resources": [f"endpoint/{row.endpoint}"],
                "time": row.ended_at or datetime.now(UTC),
            }
            for row in rows
        ])
        return len(rows)
