"""Targets by reference: `workflow:`, `function:`, `stream:` and their ARNs reach the real services."""

from __future__ import annotations

import json

import pytest

from podium.engine import Engine
from podium.errors import NotFoundError
from podium.ingest.streams import IteratorType
from podium.triggers.podium_targets import PodiumTargets, parse_reference
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import FunctionTarget, Invocation, StreamTarget, WorkflowTarget

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize(("name", "expected"), [
    ("workflow:retrain", ("workflow", "retrain")),
    ("workflow:retrain:prod", ("workflow", "retrain:prod")),
    ("arn:aws:states:local:000000000000:stateMachine:retrain",
     ("workflow", "arn:aws:states:local:000000000000:stateMachine:retrain")),
    ("function:score", ("function", "score")),
    ("arn:aws:lambda:local:000000000000:function:score:3", ("function", "score")),
    ("stream:clicks", ("stream", "clicks")),
    ("arn:aws:kinesis:local:000000000000:stream/clicks", ("stream", "clicks")),
    ("retrain", None),
    ("workflow:", None),
    ("queue:x", None),
])
def test_parse_reference(name, expected):
    assert parse_reference(name) == expected


def _invocation(payload, key="k1"):  # type: ignore[no-untyped-def]
    return Invocation(payload=payload, idempotency_key=key, origin="schedule", origin_name="nightly", attempt=1)


def test_references_resolve_to_real_targets_and_registered_names_win(settings, store):
    targets = PodiumTargets.for_settings(settings, store)
    try:
        assert isinstance(targets.get("workflow:retrain"), WorkflowTarget)
        assert isinstance(targets.get("function:score"), FunctionTarget)
        assert isinstance(targets.get("stream:clicks"), StreamTarget)
        assert targets.get("workflow:retrain") is targets.get("workflow:retrain")
        assert "workflow:anything" in targets and "plain" not in targets
        targets.register("workflow:special", lambda payload: None)
        assert not isinstance(targets.get("workflow:special"), WorkflowTarget)
        with pytest.raises(NotFoundError):
            targets.get("plain")
    finally:
        targets.close()


def test_a_workflow_target_starts_one_execution_per_idempotency_key(settings, store):
    engine = Engine(settings, store)
    engine.create_state_machine("retrain", PASS)
    targets = PodiumTargets.for_settings(settings, store, engine=engine)
    target = targets.get("workflow:retrain")
    target.invoke(_invocation({"day": 1}))
    target.invoke(_invocation({"day": 1}))  # a redelivery
    target.invoke(_invocation({"day": 2}, key="k2"))
    executions = engine.list_executions("retrain").items
    assert sorted(e.input["day"] for e in executions) == [1, 2]
    assert {e.status for e in executions} == {"SUCCEEDED"}
    targets.close()
    engine.close()


def test_a_schedule_fire_puts_its_payload_on_a_stream(settings, store):
    targets = PodiumTargets.for_settings(settings, store)
    try:
        streams = targets._factories["streams"]()
        streams.create_stream("clicks", shard_count=1)
        scheduler = Scheduler(store, targets)
        scheduler.create("tick", "rate(1 minute)", "stream:clicks", input={"n": 1})
        due = scheduler.get("tick").due_at
        assert due is not None
        report = scheduler.tick(due)
        assert report.dispatch.succeeded == 1
        shard = streams.list_shards("clicks")[0].shard_id
        iterator = streams.get_shard_iterator("clicks", shard, IteratorType.TRIM_HORIZON)
        records = streams.get_records(iterator).records
        assert [json.loads(r.data) for r in records] == [{"n": 1}]
    finally:
        targets.close()
