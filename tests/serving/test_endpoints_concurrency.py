"""Two router processes (each its own EndpointService and store connection pool) creating the
same endpoint or endpoint config at the same moment: one wins, the other gets the same 409 a
sequential duplicate gets, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from podium.config import Settings
from podium.errors import ConflictError
from podium.serving import EndpointService, Router
from podium.store import open_store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[EndpointService]]:
    home = tmp_path / "podium-home"
    settings = (Settings.for_home(home) if request.param == "sqlite"
                else Settings.for_home(home, metadata_url=request.getfixturevalue("pg_url")))
    services = [EndpointService(settings, open_store(settings), Router(), drain_timeout=5) for _ in range(2)]
    try:
        yield services
    finally:
        for service in services:
            service.shutdown()
            service.store.dispose()


def race(services: list[EndpointService], table: str, call: Callable[[EndpointService], Any]) -> list[Any]:
    """Run `call` in both services at once, each pausing (up to 2 s) after its check that the name
    is free until the other has checked too, so both checks see it free wherever the database
    lets them (PostgreSQL; SQLite serialises write transactions, so there the second one waits)."""
    checked = threading.Barrier(2, timeout=2)
    paused: set[str] = set()

    def pause(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        thread = threading.current_thread().name
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement \
                and thread.startswith("racer") and thread not in paused:
            paused.add(thread)
            with contextlib.suppress(threading.BrokenBarrierError):
                checked.wait()

    outcomes: list[Any] = [None, None]

    def run(index: int) -> None:
        try:
            outcomes[index] = call(services[index])
        except Exception as exc:
            outcomes[index] = exc

    for service in services:
        event.listen(service.store.engine, "after_cursor_execute", pause)
    try:
        threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for service in services:
            event.remove(service.store.engine, "after_cursor_execute", pause)
    return outcomes


def conflict(outcomes: list[Any], sequential: ConflictError) -> None:
    """Exactly one call succeeded; the other failed as a sequential duplicate does."""
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1, outcomes
    [error] = errors
    assert isinstance(error, ConflictError), repr(error)
    assert (error.http_status, str(error)) == (409, str(sequential))


def test_the_same_endpoint_created_at_once_in_two_processes(two_services: list[EndpointService],
                                                            good_model: Path) -> None:
    first, second = two_services
    first.create_endpoint_config("cfg", [{"VariantName": "AllTraffic", "ModelDataUrl": str(good_model)}])
    outcomes = race(two_services, "serving_endpoints", lambda s: s.create_endpoint("ep", "cfg"))
    with pytest.raises(ConflictError) as sequential:
        second.create_endpoint("ep", "cfg")
    conflict(outcomes, sequential.value)
    winner = two_services[0 if isinstance(outcomes[1], ConflictError) else 1]
    assert winner.describe_endpoint("ep")["EndpointStatus"] == "InService"
    assert [d["outcome"] for d in winner.deployments("ep")] == ["Succeeded"]  # no trace of the loser


def test_the_same_endpoint_config_created_at_once_in_two_processes(two_services: list[EndpointService],
                                                                   good_model: Path) -> None:
    variants = [{"VariantName": "AllTraffic", "ModelDataUrl": str(good_model)}]
    outcomes = race(two_services, "serving_endpoint_configs",
                    lambda s: s.create_endpoint_config("cfg", variants))
    with pytest.raises(ConflictError) as sequential:
        two_services[1].create_endpoint_config("cfg", variants)
    conflict(outcomes, sequential.value)
