"""Podium's own events reach the bus from their producers' transactions, each exactly once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, update

from podium.errors import ValidationError
from podium.models.registry import ModelRegistry
from podium.store.tables.models import models_events
from podium.store.tables.serving import serving_deployments
from podium.store.tables.triggers import triggers_events, triggers_outbox, triggers_recorded
from podium.triggers.bus import EventBus
from podium.triggers.outbox import OutboxPublisher
from podium.triggers.podium_events import (
    record_batch_run_finished,
    record_execution_status,
    record_iterator_age_high,
)
from podium.triggers.runner import run_scheduler
from podium.triggers.targets import RecordTarget, TargetRegistry


def _bus(store, label: str = "rec") -> EventBus:  # type: ignore[no-untyped-def]
    targets = TargetRegistry()
    targets.register(label, RecordTarget(store, label))
    return EventBus(store, targets)


def _recorded(store, label: str = "rec") -> list[dict]:  # type: ignore[no-untyped-def]
    with store.connect() as connection:
        rows = connection.execute(
            select(triggers_recorded.c.payload).where(triggers_recorded.c.label == label)
        ).scalars()
        return [json.loads(row) for row in rows]


def _archived(store) -> int:  # type: ignore[no-untyped-def]
    with store.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(triggers_events)).scalar_one())


def test_model_approval_reaches_the_rule_target_exactly_once(any_store):
    bus = _bus(any_store)
    bus.put_rule("approved", {
        "source": ["podium.models"],
        "detail-type": ["Model Package State Change"],
        "detail": {"ModelApprovalStatus": ["Approved"]},
    }, [{"id": "t", "target": "rec"}])
    registry = ModelRegistry(any_store)
    registry.create_group("churn")
    registry.register("churn", artifact_uri="file:///m")  # PendingManualApproval: no match
    registry.approve("churn", 1, by="ana", reason="AUC 0.91")

    publisher = OutboxPublisher(bus)
    assert publisher.publish() == 2  # the registration and the approval
    assert publisher.publish() == 0  # marked published in the same transaction
    bus.dispatch()
    bus.dispatch()
    delivered = _recorded(any_store)
    assert len(delivered) == 1
    assert delivered[0]["source"] == "podium.models"
    assert delivered[0]["detail"]["ModelPackageGroupName"] == "churn"
    assert delivered[0]["detail"]["PreviousApprovalStatus"] == "PendingManualApproval"
    assert delivered[0]["detail"]["ChangedBy"] == "ana"
    assert delivered[0]["resources"] == ["churn/1"]
    with any_store.connect() as connection:
        assert set(connection.execute(select(models_events.c.published)).scalars()) == {True}


class _CrashingBus(EventBus):
    """Puts the events, then fails before the publisher's transaction commits."""

    def put_events(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().put_events(*args, **kwargs)
        raise RuntimeError("publisher died before commit")


def test_a_publisher_crash_before_commit_publishes_nothing_and_loses_nothing(store):
    bus = _bus(store)
    bus.put_rule("all-models", {"source": ["podium.models"]}, [{"id": "t", "target": "rec"}])
    registry = ModelRegistry(store)
    registry.create_group("churn")
    registry.register("churn", artifact_uri="file:///m")
    with pytest.raises(RuntimeError):
        OutboxPublisher(_CrashingBus(store, bus.targets)).publish()
    assert _archived(store) == 0
    assert OutboxPublisher(bus).publish() == 1
    bus.dispatch()
    assert len(_recorded(store)) == 1


def test_a_finished_deployment_is_published_once(any_store):
    bus = _bus(any_store)
    bus.put_rule("rolled-back", {
        "source": ["podium.serving"],
        "detail-type": ["Endpoint Deployment State Change"],
        "detail": {"Outcome": ["RolledBack"]},
    }, [{"id": "t", "target": "rec"}])
    started = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    with any_store.begin() as connection:
        deployment = connection.execute(insert(serving_deployments).values(
            endpoint="churn", from_config="v1", to_config="v2", policy={}, outcome="InProgress",
            started_at=started,
        )).inserted_primary_key[0]
    publisher = OutboxPublisher(bus)
    assert publisher.publish() == 0  # still in progress: nothing to announce
    with any_store.begin() as connection:  # what the endpoint service writes when it rolls back
        connection.execute(update(serving_deployments).where(serving_deployments.c.id == deployment).values(
            outcome="RolledBack", reason="alarm 'errors' entered ALARM", ended_at=started.replace(minute=5),
        ))
    assert publisher.publish() == 1
    assert publisher.publish() == 0
    bus.dispatch()
    [event] = _recorded(any_store)
    assert event["source"] == "podium.serving"
    assert event["detail"] == {
        "EndpointName": "churn", "DeploymentId": deployment, "Outcome": "RolledBack",
        "FromConfig": "v1", "ToConfig": "v2", "Reason": "alarm 'errors' entered ALARM",
        "StartedAt": event["detail"]["StartedAt"], "EndedAt": event["detail"]["EndedAt"],
    }
    assert event["detail"]["EndedAt"].startswith("2026-01-05T10:05")
    assert event["time"] == "2026-01-05T10:05:00Z"


def test_hooks_record_in_the_producers_transaction_only_when_it_commits(store):
    bus = _bus(store)
    bus.put_rule("failed-runs", {
        "source": ["podium.engine", "podium.ingest"],
        "detail": {"$or": [{"status": ["FAILED"]}, {"state": ["FAILED"]}]},
    }, [{"id": "t", "target": "rec"}])
    with pytest.raises(RuntimeError), store.begin() as connection:
        record_execution_status(
            connection, execution_arn="arn:x:execution:m:lost", state_machine_arn="arn:x:stateMachine:m",
            name="lost", status="FAILED", start_date=0.0,
        )
        raise RuntimeError("the producer's transaction fails: its event goes with it")
    with store.begin() as connection:
        record_execution_status(
            connection, execution_arn="arn:x:execution:m:e1", state_machine_arn="arn:x:stateMachine:m",
            name="e1", status="FAILED", start_date=1.5, stop_date=2.0, input='{"a": 1}',
            error="States.TaskFailed", cause="boom",
        )
        record_batch_run_finished(connection, job_name="sales", run_id="r1", state="FAILED",
                                  statistics={"rows_read": 10})
        record_batch_run_finished(connection, job_name="sales", run_id="r2", state="SUCCEEDED")
    record_iterator_age_high(store, stream="clicks", consumer="c", shard_id="shardId-000000000000",
                             age_milliseconds=90_000, threshold_milliseconds=60_000)
    assert OutboxPublisher(bus).publish() == 4
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(triggers_outbox)).scalar_one() == 0
    bus.dispatch()
    delivered = sorted(_recorded(store), key=lambda e: e["source"])
    assert [e["source"] for e in delivered] == ["podium.engine", "podium.ingest"]
    execution, run = delivered[0]["detail"], delivered[1]["detail"]
    assert execution["startDate"] == 1500 and execution["stopDate"] == 2000
    assert execution["error"] == "States.TaskFailed" and execution["input"] == '{"a": 1}'
    assert delivered[0]["detail-type"] == "Step Functions Execution Status Change"
    assert delivered[0]["resources"] == ["arn:x:execution:m:e1"]
    assert run["jobRunId"] == "r1" and run["severity"] == "ERROR" and run["statistics"] == {"rows_read": 10}
    ages = [e for e in bus.events() if e["source"] == "podium.streams"]
    assert ages[0]["detail-type"] == "Iterator Age High"
    assert ages[0]["detail"]["iteratorAgeMilliseconds"] == 90_000


def test_hooks_reject_unknown_states(store):
    with pytest.raises(ValidationError):
        record_batch_run_finished(store, job_name="j", run_id="r", state="DONE")
    with pytest.raises(ValidationError):
        record_execution_status(store, execution_arn="a", state_machine_arn="s", name="n",
                                status="FINISHED", start_date=0.0)


def test_the_scheduler_loop_publishes_and_delivers(store):
    bus = _bus(store)
    bus.put_rule("runs", {"source": ["podium.ingest"]}, [{"id": "t", "target": "rec"}])
    record_batch_run_finished(store, job_name="sales", run_id="r9", state="SUCCEEDED")
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(store, bus.targets, stop), kwargs={"interval": 0.1})
    thread.start()
    try:
        deadline = datetime.now(UTC).timestamp() + 10
        while not _recorded(store) and datetime.now(UTC).timestamp() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert [e["detail"]["jobRunId"] for e in _recorded(store)] == ["r9"]


@pytest.mark.postgres
def test_two_publishers_on_postgresql_publish_each_event_once(pg_store):
    for i in range(60):
        record_batch_run_finished(pg_store, job_name="j", run_id=f"r{i}", state="SUCCEEDED")
    publishers = [OutboxPublisher(_bus(pg_store), batch_size=7) for _ in range(2)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda p=p: counts.append(p.publish())) for p in publishers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(counts) == 60
    assert _archived(pg_store) == 60
