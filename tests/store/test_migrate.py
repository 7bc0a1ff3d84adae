"""Concurrent opens of a new store migrate it once and never fail."""

from __future__ import annotations

import threading
from pathlib import Path

from podium.store import migrate, open_store


def test_parallel_first_opens_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    failures: list[BaseException] = []
    ids: list[str | None] = []

    def opener() -> None:
        try:
            store = open_store(url)
            ids.append(store.info("store_id"))
            store.dispose()
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(ids)) == 1
    store = open_store(url)
    with store.connect() as connection:
        assert migrate.current_revisions(connection) == migrate.head_revisions()
    store.dispose()
