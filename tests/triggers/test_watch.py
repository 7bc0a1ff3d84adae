"""A file landing in a watched folder starts what it is wired to exactly once."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from podium.store.tables.triggers import triggers_recorded
from podium.triggers.bus import EventBus
from podium.triggers.targets import RecordTarget, TargetRegistry
from podium.triggers.watch import FolderWatcher

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def wired_bus(store) -> EventBus:
    targets = TargetRegistry()
    targets.register("start-ingest", RecordTarget(store, "ingest"))
    bus = EventBus(store, targets)
    bus.put_rule(
        "sales-file",
        {"source": ["podium.lake"], "detail-type": ["Object Created"],
         "detail": {"object": {"key": [{"prefix": "sales/"}]}}},
        [{"id": "ingest", "target": "start-ingest", "input_path": "$.detail.object.key"}],
    )
    return bus


def recorded(store):
    with store.connect() as connection:
        return sorted(
            connection.execute(select(triggers_recorded.c.payload).where(triggers_recorded.c.label == "ingest")).scalars()
        )


def test_new_and_changed_files_are_announced_once(store, tmp_path: Path):
    folder = tmp_path / "landing"
    (folder / "sales").mkdir(parents=True)
    bus = wired_bus(store)
    watcher = FolderWatcher("landing", str(folder), bus)
    assert watcher.poll(now=T0) == []
    (folder / "sales" / "a.csv").write_text("x\n")
    (folder / "sales" / ".partial").write_text("ignored")
    (folder / "hr.csv").write_text("not sales")
    assert len(watcher.poll(now=T0)) == 2  # sales/a.csv and hr.csv, not the hidden file
    assert watcher.poll(now=T0) == []  # nothing new
    bus.dispatch(T0)
    assert recorded(store) == ['"sales/a.csv"']
    (folder / "sales" / "a.csv").write_text("x\ny\n")  # rewritten: a new object version
    assert len(watcher.poll(now=T0)) == 1
    (event,) = [e for e in bus.events() if e["detail"]["object"]["size"] == 4]
    assert event["detail"]["object"]["key"] == "sales/a.csv"
    assert event["resources"] == [f"{folder}/sales/a.csv"]


@pytest.mark.postgres
def test_two_watchers_racing_announce_each_file_once(pg_store, tmp_path: Path):
    folder = tmp_path / "landing"
    (folder / "sales").mkdir(parents=True)
    for i in range(25):
        (folder / "sales" / f"{i:02d}.csv").write_text(str(i))
    bus = wired_bus(pg_store)
    watchers = [FolderWatcher("landing", str(folder), wired_bus(pg_store)) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[list[str]] = []

    def poll(watcher: FolderWatcher) -> None:
        barrier.wait()
        results.append(watcher.poll(now=T0))

    threads = [threading.Thread(target=poll, args=(w,)) for w in watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(len(r) for r in results) == 25
    bus.dispatch(T0)
    assert recorded(pg_store) == sorted(f'"sales/{i:02d}.csv"' for i in range(25))


def test_a_landed_file_starts_its_workflow_exactly_once(settings, store, tmp_path: Path):
    from podium.engine import Engine
    from podium.triggers.targets import WorkflowTarget

    engine = Engine(settings, store, function_pool_size=1)
    try:
        engine.create_state_machine(
            "ingest-sales", {"StartAt": "Go", "States": {"Go": {"Type": "Pass", "End": True}}}
        )
        targets = TargetRegistry()
        targets.register("ingest-workflow", WorkflowTarget(engine, "ingest-sales"))
        bus = EventBus(store, targets)
        bus.put_rule(
            "sales-file",
            {"source": ["podium.lake"], "detail": {"object": {"key": [{"prefix": "sales/"}]}}},
            [{"id": "wf", "target": "ingest-workflow",
              "input_transformer": {"input_paths_map": {"key": "$.detail.object.key"},
                                    "input_template": '{"path": <key>}'}}],
        )
        folder = tmp_path / "landing"
        (folder / "sales").mkdir(parents=True)
        watchers = [FolderWatcher("landing", str(folder), bus) for _ in range(2)]
        (folder / "sales" / "2026-01-05.csv").write_text("a,b\n")
        for watcher in watchers:
            watcher.poll(now=T0)
        bus.dispatch(T0)
        bus.dispatch(T0)
        (execution,) = engine.list_executions("ingest-sales").items
        assert execution.input == {"path": "sales/2026-01-05.csv"}
    finally:
        engine.close()


def test_stored_watches_announce_only_files_that_arrive_later(store, tmp_path: Path):
    from podium.errors import NotFoundError
    from podium.triggers.watch import delete_watch, list_watches, poll_watches, put_watch

    folder = tmp_path / "landing"
    (folder / "sales").mkdir(parents=True)
    (folder / "sales" / "old.csv").write_text("a\n1\n")
    bus = wired_bus(store)
    put_watch(store, "landing", str(folder))
    assert list_watches(store) == [{"name": "landing", "location": str(folder)}]
    assert poll_watches(bus) == 0  # what was there before the watch is not news
    (folder / "sales" / "new.csv").write_text("a\n2\n")
    assert poll_watches(bus) == 1
    assert poll_watches(bus) == 0
    bus.dispatch()
    assert recorded(store) == ['"sales/new.csv"']

    put_watch(store, "everything", str(folder), announce_existing=True)
    assert poll_watches(bus) == 2  # both files, under the second watch
    delete_watch(store, "everything")
    with pytest.raises(NotFoundError):
        delete_watch(store, "everything")
    put_watch(store, "missing", str(tmp_path / "not-yet"))
    assert poll_watches(bus) == 0  # a folder that does not exist yet is simply empty


def test_the_scheduler_loop_polls_stored_watches(store, tmp_path: Path):
    from podium.triggers.runner import run_scheduler
    from podium.triggers.watch import put_watch

    folder = tmp_path / "landing"
    (folder / "sales").mkdir(parents=True)
    bus = wired_bus(store)
    put_watch(store, "landing", str(folder))
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(store, bus.targets, stop), kwargs={"interval": 0.1, "watch_interval": 0.1}
    )
    thread.start()
    try:
        (folder / "sales" / "2026-01-05.csv").write_text("a\n1\n")
        deadline = datetime.now(UTC).timestamp() + 10
        while not recorded(store) and datetime.now(UTC).timestamp() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert recorded(store) == ['"sales/2026-01-05.csv"']
