"""Progress inside one long DuckDB query, read while it runs.

DuckDB estimates how far the running query of a connection is (`query_progress()`, a
percentage, -1 while it cannot tell). `watch_query` polls it from a thread while a block
runs queries on the connection and hands each new value to a callback, so a bar can move
during a single COPY of ten million rows instead of jumping from 0 to done at its end.
The percentage restarts at 0 with every query; DuckDB does not know how many queries the
block will run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

# (stage, percent 0-100): `stage` names what the running query is for ("fit", "write"...).
QueryProgress = Callable[[str, float], None]


@contextmanager
def watch_query(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    on_progress: QueryProgress | None,
    *,
    interval: float = 0.1,
) -> Iterator[None]:
    """Call `on_progress(stage, percent)` from a watcher thread whenever the progress of the
    query `con` is running changes, every `interval` seconds at most, until the block ends.

    The callback runs on the watcher thread, never after the block has exited; an exception
    it raises stops the watching (the query goes on). With `on_progress` None this does
    nothing. The connection must have been made by `podium.prep.engine.connect`, which
    turns DuckDB's progress tracking on.
    """
    if on_progress is None:
        yield
        return
    done = threading.Event()
    lock = threading.Lock()  # the callback never runs once the block has exited

    def poll() -> None:
        last = -1.0
        while not done.wait(interval):
            value = con.query_progress()
            if value < 0 or value == last:
                continue
            last = value
            with lock:
                if done.is_set():
                    return
                try:
                    on_progress(stage, min(float(value), 100.0))
                except Exception:
                    return

    thread = threading.Thread(target=poll, name=f"podium-query-progress-{stage}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with lock:
            done.set()
        thread.join()
