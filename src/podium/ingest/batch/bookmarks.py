"""Job bookmarks: what a job has already processed, so a run reads only new data.

The bookmark is a pointer to a run (the head). The processed set is what the head run
and its bookmark ancestors read: each run records the head it started from
(`bookmark_parent`) and its inputs, so the state is a chain of runs. This gives Glue's
operations cheaply and exactly:

- a run with bookmarks enabled reads what the chain has not seen and, in the same
  transaction that publishes its output, moves the head to itself;
- `pause` reads the same way but leaves the head where it was (or, given a range of
  runs, reads again exactly what those runs read); `disable` reads all;
- `reset` clears the head; `rewind(run)` points it at an earlier run of the chain;
- a run that crashes never moves the head, so its inputs are read again next time.

File sources are remembered by (path, size, mtime): a file rewritten in place counts as
new. Table sources remember the highest value of a monotonically increasing key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.batch.sources import FileEntry
from podium.store import Store
from podium.store.tables.ingest import ingest_bookmarks, ingest_run_inputs, ingest_runs


@dataclass(frozen=True)
class BookmarkState:
    """The bookmark as of the start of a run."""

    job_name: str
    head_run_id: str | None
    version: int
    chain: tuple[str, ...]
    files: frozenset[tuple[str, int, float]]
    key_high: Any

    def pending(self, listed: list[FileEntry]) -> list[FileEntry]:
        """The listed files not yet processed (new, or changed in size or mtime)."""
        return [f for f in listed if (f.path, f.size, f.mtime) not in self.files]


def _chain(conn: Connection, job_name: str, head: str | None) -> list[str]:
    if head is None:
        return []
    rows = conn.execute(
        select(ingest_runs.c.id, ingest_runs.c.bookmark_parent).where(
            ingest_runs.c.job_name == job_name,
            ingest_runs.c.status == "SUCCEEDED",
            ingest_runs.c.bookmark_advanced.is_(True),
        )
    ).all()
    parent = {r.id: r.bookmark_parent for r in rows}
    out: list[str] = []
    node: str | None = head
    while node is not None and node in parent and node not in out:
        out.append(node)
        node = parent[node]
    return out


def load_state(conn: Connection, job_name: str) -> BookmarkState:
    """Read the bookmark (head, version) and the processed set of its chain."""
    row = conn.execute(select(ingest_bookmarks).where(ingest_bookmarks.c.job_name == job_name)).first()
    if row is None:
        raise NotFoundError(f"job '{job_name}' has no bookmark (does the job exist?)")
    chain = _chain(conn, job_name, row.head_run_id)
    files = _chain_files(conn, chain)
    key_high = None
    if chain:
        key_high = conn.execute(select(ingest_runs.c.key_high).where(ingest_runs.c.id == chain[0])).scalar()
    return BookmarkState(job_name, row.head_run_id, int(row.version), tuple(chain), frozenset(files), key_high)


def _chain_files(conn: Connection, chain: list[str]) -> set[tuple[str, int, float]]:
    if not chain:
        return set()
    rows = conn.execute(
        select(ingest_run_inputs.c.path, ingest_run_inputs.c.size, ingest_run_inputs.c.mtime).where(
            ingest_run_inputs.c.run_id.in_(chain)
        )
    )
    return {(r.path, int(r.size), float(r.mtime)) for r in rows}


def range_files(conn: Connection, job_name: str, from_run: str, to_run: str) -> frozenset[tuple[str, int, float]]:
    """Files read by the bookmarked runs after `from_run` up to and including `to_run`
    (Glue's --job-bookmark-from / --job-bookmark-to)."""
    to_chain = _chain(conn, job_name, to_run)
    if to_run not in to_chain:
        raise ValidationError(f"run '{to_run}' is not a bookmarked run of job '{job_name}'")
    if from_run not in to_chain:
        raise ValidationError(f"run '{from_run}' is not at or before run '{to_run}' in the bookmark history of '{job_name}'")
    after = to_chain[: to_chain.index(from_run)]
    return frozenset(_chain_files(conn, after))


def advance(conn: Connection, state: BookmarkState, run_id: str) -> None:
    """Point the head at `run_id`, only if nobody moved it since `state` was read."""
    now = datetime.now(UTC)
    moved = conn.execute(
        update(ingest_bookmarks)
        .where(ingest_bookmarks.c.job_name == state.job_name, ingest_bookmarks.c.version == state.version)
        .values(head_run_id=run_id, version=state.version + 1, updated_at=now)
    ).rowcount
    if moved != 1:
        raise ConflictError(
            f"the bookmark of job '{state.job_name}' changed while run {run_id} was running "
            "(another run, a reset or a rewind); nothing was committed, run the job again",
            code="BookmarkVersionMismatch",
        )


def _set_head(store: Store, job_name: str, head: str | None) -> None:
    with store.begin() as conn:
        moved = conn.execute(
            update(ingest_bookmarks)
            .where(ingest_bookmarks.c.job_name == job_name)
            .values(head_run_id=head, version=ingest_bookmarks.c.version + 1, updated_at=datetime.now(UTC))
        ).rowcount
    if moved != 1:
        raise NotFoundError(f"job '{job_name}' does not exist")


def reset(store: Store, job_name: str) -> None:
    """Forget everything: the next run with bookmarks enabled reads all data again."""
    _set_head(store, job_name, None)


def rewind(store: Store, job_name: str, run_id: str) -> None:
    """Point the bookmark at an earlier run: later runs' inputs are read again."""
    with store.connect() as conn:
        row = conn.execute(select(ingest_bookmarks).where(ingest_bookmarks.c.job_name == job_name)).first()
        if row is None:
            raise NotFoundError(f"job '{job_name}' does not exist")
        chain = _chain(conn, job_name, row.head_run_id)
    if run_id not in chain:
        raise ValidationError(
            f"run '{run_id}' is not in the bookmark history of job '{job_name}' "
            f"(runs you can rewind to: {', '.join(chain) or 'none'})"
        )
    _set_head(store, job_name, run_id)
