"""Folder watchers: new files in a lake location or source path become events on the bus
(the stand-in for S3 event notifications to EventBridge).

`FolderWatcher.poll()` lists the location (any fsspec URL or local path) and puts one
`Object Created` event for each file it has not announced before, or whose size or
modification time changed. The record of announced files and the events are written in
one transaction, and a file is claimed with an insert-if-absent (or a compare-and-set
update when it changed), so several watchers polling the same location announce each
file once. Writers should write to a temporary name and rename: names starting with `.`
or `_`, and those ending in `.tmp`, are ignored.

Watches kept in the metadata store (`put_watch`, `podium events watch NAME LOCATION`) are
polled by the scheduler loop (`poll_watches`); a new watch first records the files already
there, so only files arriving afterwards are announced, as with S3 notifications.

The event has S3's shape, so patterns written for S3 carry over:
`{"source": "podium.lake", "detail-type": "Object Created",
  "detail": {"bucket": {"name": <location>}, "object": {"key": <relative path>,
  "size": <bytes>, "etag": <signature>}, "reason": "PutObject"}}`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.errors import NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.triggers import triggers_watch_seen, triggers_watches
from podium.triggers.bus import MAX_ENTRIES, EventBus

log = logging.getLogger(__name__)

SOURCE = "podium.lake"
DETAIL_TYPE = "Object Created"


@dataclass(frozen=True)
class FolderWatcher:
    name: str  # identifies the watch; the record of announced files is kept under it
    location: str
    bus: EventBus

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise ValidationError(f"watch name {self.name!r} must be 1-64 characters")

    def poll(self, *, now: datetime | None = None) -> list[str]:
        """Announce new and changed files; returns the ids of the events put."""
        moment = now or datetime.now(UTC)
        found, sizes = self._listing()
        if not found:
            return []
        ids: list[str] = []
        with self.bus.store.begin() as connection:
            seen = dict(
                connection.execute(
                    select(triggers_watch_seen.c.path, triggers_watch_seen.c.signature).where(
                        triggers_watch_seen.c.watch == self.name
                    )
                ).all()
            )
            claimed = [
                path
                for path, signature in sorted(found.items())
                if seen.get(path) != signature
                and self._claim(connection, path, signature, seen.get(path))
            ]
            entries = [self._event(path, sizes[path], found[path]) for path in claimed]
            for start in range(0, len(entries), MAX_ENTRIES):
                ids += self.bus.put_events(
                    entries[start : start + MAX_ENTRIES], now=moment, connection=connection
                )
        return ids

    def baseline(self) -> int:
        """Record the files present now as announced, without events, so that only files
        arriving later are announced (S3 notifies of new objects, not of existing ones).
        Returns how many files were recorded."""
        found, _sizes = self._listing()
        with self.bus.store.begin() as connection:
            seen = dict(
                connection.execute(
                    select(triggers_watch_seen.c.path, triggers_watch_seen.c.signature).where(
                        triggers_watch_seen.c.watch == self.name
                    )
                ).all()
            )
            return sum(
                1
                for path, signature in sorted(found.items())
                if seen.get(path) != signature
                and self._claim(connection, path, signature, seen.get(path))
            )

    def _listing(self) -> tuple[dict[str, str], dict[str, int]]:
        """The files under the location: their signatures (size and modification time) and sizes."""
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.location)
        root = root.rstrip("/")
        found: dict[str, str] = {}
        sizes: dict[str, int] = {}
        if not fs.exists(root):
            return found, sizes
        for path, info in fs.find(root, detail=True).items():
            relative = path[len(root) :].lstrip("/")
            base = relative.rsplit("/", 1)[-1]
            if info.get("type") != "file" or base.startswith((".", "_")) or base.endswith(".tmp"):
                continue
            modified = info.get("mtime") or info.get("LastModified") or info.get("created") or ""
            if isinstance(modified, datetime):
                modified = modified.timestamp()
            found[relative] = f"{info.get('size', 0)}-{modified}"
            sizes[relative] = int(info.get("size") or 0)
        return found, sizes

    def _claim(self, connection: Any, path: str, signature: str, previous: str | None) -> bool:
        t = triggers_watch_seen
        if previous is None:
            # Insert-if-absent, portable: a concurrent watcher's insert makes ours fail on
            # the primary key; a savepoint keeps the rest of our transaction.
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(t).values(
                            watch=self.name, path=path, signature=signature, seen_at=time.time()
                        )
                    )
                return True
            except IntegrityError:
                return False
        changed = connection.execute(
            update(t)
            .where(t.c.watch == self.name, t.c.path == path, t.c.signature == previous)
            .values(signature=signature, seen_at=time.time())
        )
        return bool(changed.rowcount == 1)

    def _event(self, path: str, size: int, signature: str) -> dict[str, Any]:
        return {
            "source": SOURCE,
            "detail-type": DETAIL_TYPE,
            "resources": [f"{self.location.rstrip('/')}/{path}"],
            "detail": {
                "version": "0",
                "bucket": {"name": self.location},
                "object": {"key": path, "size": size, "etag": signature},
                "reason": "PutObject",
                "watch": self.name,
            },
        }


# ---- watches kept in the metadata store, polled by the scheduler loop ------------------


def put_watch(store: Store, name: str, location: str, *, announce_existing: bool = False) -> dict[str, Any]:
    """Watch `location` under `name` (create or replace). Files already there are not
    announced unless `announce_existing`; the scheduler loop announces what arrives later."""
    if not isinstance(location, str) or not location.strip():
        raise ValidationError("a watch needs a location (a path or fsspec URL)")
    watcher = FolderWatcher(name, location, EventBus(store))
    t = triggers_watches
    with store.begin() as connection:
        replaced = connection.execute(update(t).where(t.c.name == name).values(location=location))
        if replaced.rowcount == 0:
            connection.execute(insert(t).values(name=name, location=location, created_at=time.time()))
    if not announce_existing:
        watcher.baseline()
    return {"name": name, "location": location}


def list_watches(store: Store) -> list[dict[str, Any]]:
    t = triggers_watches
    with store.connect() as connection:
        rows = connection.execute(select(t.c.name, t.c.location).order_by(t.c.name)).all()
    return [{"name": row.name, "location": row.location} for row in rows]


def delete_watch(store: Store, name: str) -> None:
    """Stop watching; what it had announced is forgotten with it."""
    with store.begin() as connection:
        gone = connection.execute(delete(triggers_watches).where(triggers_watches.c.name == name))
        connection.execute(delete(triggers_watch_seen).where(triggers_watch_seen.c.watch == name))
    if gone.rowcount == 0:
        raise NotFoundError(f"watch {name!r} does not exist")


def poll_watches(bus: EventBus, *, now: datetime | None = None) -> int:
    """Poll every stored watch once; returns the number of events put. A location that
    cannot be listed (a bucket without credentials, say) is logged and skipped, so one bad
    watch does not stop the others."""
    put = 0
    for watch in list_watches(bus.store):
        try:
            put += len(FolderWatcher(watch["name"], watch["location"], bus).poll(now=now))
        except (OSError, ValueError, ImportError) as exc:
            log.warning("watch %s (%s) could not be polled: %s", watch["name"], watch["location"], exc)
    return put
