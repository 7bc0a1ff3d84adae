"""STANDARD executions announce each status change on the event bus (podium.engine events)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from podium.engine import Engine, Worker
from podium.store import Store
from podium.store.tables.triggers import triggers_outbox, triggers_recorded
from podium.triggers.bus import EventBus
from podium.triggers.outbox import OutboxPublisher
from podium.triggers.targets import RecordTarget, TargetRegistry

THREE_TASKS = {"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "double", "Next": "B"},
    "B": {"Type": "Task", "Resource": "double", "Next": "C"},
    "C": {"Type": "Task", "Resource": "double", "End": True}}}


def _outbox(store: Store) -> list[dict]:
    with store.connect() as connection:
        rows = connection.execute(select(triggers_outbox).order_by(triggers_outbox.c.id)).all()
    return [{"source": r.source, "detail_type": r.detail_type, "resources": json.loads(r.resources),
             **json.loads(r.detail)} for r in rows]


def _statuses(store: Store, arn: str) -> list[str]:
    return [event["status"] for event in _outbox(store) if event["executionArn"] == arn]


def _run(engine: Engine) -> None:
    worker = Worker(engine, poll_interval=0.02)
    worker.run_until_idle(30)
    worker.close()


def test_one_outbox_row_per_status_change_not_per_transition(engine: Engine) -> None:
    engine.create_state_machine("three", THREE_TASKS)
    run = engine.start_execution("three", {"x": 1}, name="first")
    assert _statuses(engine.store, run.arn) == ["RUNNING"]  # committed with the start
    _run(engine)
    events = _outbox(engine.store)
    assert [e["status"] for e in events] == ["RUNNING", "SUCCEEDED"]
    started, ended = events
    assert started["source"] == "podium.engine"
    assert started["detail_type"] == "Step Functions Execution Status Change"
    assert started["resources"] == [run.arn]
    assert started["name"] == "first" and started["stateMachineArn"].endswith(":stateMachine:three")
    assert json.loads(started["input"]) == {"x": 1} and started["stopDate"] is None
    assert json.loads(ended["output"]) == {"x": 8}
    assert ended["startDate"] == started["startDate"] and ended["stopDate"] >= ended["startDate"]


def test_failure_redrive_stop_and_timeout_each_announced_once(engine: Engine, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    engine.create_state_machine("flaky", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "fail_unless_flag", "Parameters": {"flag": str(flag)}, "End": True}}})
    engine.create_state_machine("nap", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    engine.create_state_machine("late", {"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    engine.create_state_machine("quick", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    flaky = engine.start_execution("flaky")
    stopped = engine.start_execution("nap")
    late = engine.start_execution("late")
    quick = engine.start_execution("quick")  # ends within its start transaction
    engine.stop_execution(stopped.arn, error="Ops.Stop", cause="not needed")
    _run(engine)
    engine.create_state_machine("fast", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                                type="EXPRESS")
    express = engine.start_sync_execution("fast")
    flag.write_text("go")
    engine.redrive_execution(flaky.arn)
    _run(engine)
    assert _statuses(engine.store, flaky.arn) == ["RUNNING", "FAILED", "RUNNING", "SUCCEEDED"]
    assert _statuses(engine.store, stopped.arn) == ["RUNNING", "ABORTED"]
    assert _statuses(engine.store, late.arn) == ["RUNNING", "TIMED_OUT"]
    assert _statuses(engine.store, quick.arn) == ["RUNNING", "SUCCEEDED"]
    assert _statuses(engine.store, express.arn) == []  # EXPRESS runs publish no status events
    aborted = [e for e in _outbox(engine.store) if e["status"] == "ABORTED"]
    assert (aborted[0]["error"], aborted[0]["cause"]) == ("Ops.Stop", "not needed")
    failed = [e for e in _outbox(engine.store) if e["status"] == "FAILED"]
    assert failed[0]["error"] == "RuntimeError" and failed[0]["output"] is None


def test_a_rule_on_the_bus_matches_a_failed_execution(engine: Engine) -> None:
    store = engine.store
    targets = TargetRegistry()
    targets.register("rec", RecordTarget(store, "rec"))
    bus = EventBus(store, targets)
    bus.put_rule("workflow-failed", {
        "source": ["podium.engine"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT"], "stateMachineArn": [{"suffix": ":boom"}]},
    }, [{"id": "t", "target": "rec"}])
    engine.create_state_machine("boom", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "boom", "End": True}}})
    engine.create_state_machine("double", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "double", "End": True}}})
    failing = engine.start_execution("boom", {"x": 1})
    engine.start_execution("double", {"x": 1})
    _run(engine)
    publisher = OutboxPublisher(bus)
    assert publisher.publish() == 4  # two starts, one success, one failure
    assert publisher.publish() == 0
    bus.dispatch()
    bus.dispatch()
    with store.connect() as connection:
        delivered = [json.loads(p) for p in connection.execute(
            select(triggers_recorded.c.payload).where(triggers_recorded.c.label == "rec")).scalars()]
    assert len(delivered) == 1
    assert delivered[0]["detail"]["executionArn"] == failing.arn
    assert delivered[0]["detail"]["error"] == "ValueError"


def test_the_engine_writes_the_row_record_execution_status_writes(store: Store) -> None:
    """The engine inserts its status rows with a prebuilt statement: same row as the producers' API."""
    from datetime import UTC, datetime

    from podium.engine import arns
    from podium.engine.transitions import record_status
    from podium.triggers.podium_events import record_execution_status

    arn = arns.execution_arn("orders", "run-1")
    start = datetime(2026, 11, 26, 1, 2, 3, 456000, tzinfo=UTC)
    stop = datetime(2026, 11, 26, 1, 5, 0, tzinfo=UTC)
    with store.begin() as connection:
        record_status(connection, arn, "FAILED", input_text='{"a":1}', start=start, stop=stop,
                      error="States.TaskFailed", cause="boom")
        record_execution_status(
            connection, execution_arn=arn,
            state_machine_arn=arns.state_machine_arn("orders"),
            name="run-1", status="FAILED", start_date=start, stop_date=stop, input='{"a":1}',
            error="States.TaskFailed", cause="boom",
        )
    ours, theirs = _outbox(store)
    assert ours == theirs
