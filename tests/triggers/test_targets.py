"""Targets: the registry, the record target, and starting a workflow exactly once."""

import pytest

from podium.engine import Engine
from podium.errors import ConflictError, NotFoundError
from podium.triggers.targets import (
    CallableTarget,
    Invocation,
    RecordTarget,
    TargetRegistry,
    WorkflowTarget,
)

INVOCATION = Invocation(
    payload={"day": "2026-01-05"},
    idempotency_key="schedule:nightly:2026-01-05T02:00:00+00:00",
    origin="schedule",
    origin_name="nightly",
    attempt=1,
)


def test_registry():
    registry = TargetRegistry()
    seen = []
    registry.register("fn", seen.append)
    registry.register("inv", CallableTarget(seen.append, wants_invocation=True))
    registry.get("fn").invoke(INVOCATION)
    registry.get("inv").invoke(INVOCATION)
    assert seen == [{"day": "2026-01-05"}, INVOCATION]
    assert registry.names() == ["fn", "inv"] and "fn" in registry
    with pytest.raises(ConflictError):
        registry.register("fn", seen.append)
    with pytest.raises(NotFoundError, match="registered: fn, inv"):
        registry.get("nope")


def test_record_target_records_each_key_once(store):
    from sqlalchemy import func, select

    from podium.store.tables.triggers import triggers_recorded

    target = RecordTarget(store, "rec")
    target.invoke(INVOCATION)
    target.invoke(INVOCATION)
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(triggers_recorded)).scalar() == 1


def test_workflow_target_starts_one_execution_per_fire(settings, store):
    engine = Engine(settings, store, function_pool_size=1)
    try:
        engine.create_state_machine(
            "retrain", {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        )
        target = WorkflowTarget(engine, "retrain")
        target.invoke(INVOCATION)
        target.invoke(INVOCATION)  # a redelivery after a crash
        items = engine.list_executions("retrain").items
        assert len(items) == 1
        assert items[0].name == WorkflowTarget.execution_name(INVOCATION)
        assert items[0].name.startswith("nightly-") and len(items[0].name) <= 80
    finally:
        engine.close()


def test_function_target_runs_the_function_and_fails_on_its_errors(tmp_path):
    from podium.functions import FunctionError, FunctionPool, FunctionRegistry, FunctionSpec
    from podium.triggers.targets import FunctionTarget

    (tmp_path / "trigger_handlers.py").write_text(
        "import pathlib\n"
        "def touch(event, context):\n"
        "    pathlib.Path(event['path']).write_text(context.aws_request_id)\n"
        "def boom(event, context):\n"
        "    raise ValueError('bad input')\n"
    )
    functions = FunctionRegistry()
    functions.add(FunctionSpec("touch", "trigger_handlers:touch", timeout_seconds=20))
    functions.add(FunctionSpec("boom", "trigger_handlers:boom", timeout_seconds=20))
    pool = FunctionPool(1, extra_paths=[str(tmp_path)])
    try:
        marker = tmp_path / "ran.txt"
        invocation = Invocation({"path": str(marker)}, "rule:r:t:e1", "rule", "r", 1)
        FunctionTarget(functions, pool, "touch").invoke(invocation)
        assert marker.read_text() == "rule:r:t:e1"
        with pytest.raises(FunctionError, match="bad input"):
            FunctionTarget(functions, pool, "boom").invoke(invocation)
    finally:
        pool.close()


def test_stream_target_puts_json_with_the_partition_key(tmp_path):
    import json

    from podium.ingest.streams.factory import open_streams
    from podium.triggers.targets import StreamTarget

    streams = open_streams("embedded", home=tmp_path)
    try:
        streams.create_stream("events", shard_count=1)
        StreamTarget(streams, "events", partition_key_path="$.day").invoke(INVOCATION)
        StreamTarget(streams, "events").invoke(INVOCATION)
        (shard,) = streams.list_shards("events")
        iterator = streams.get_shard_iterator("events", shard.shard_id, "TRIM_HORIZON")
        records = streams.get_records(iterator).records
    finally:
        streams.close()
    assert [json.loads(r.data) for r in records] == [INVOCATION.payload] * 2
    assert [r.partition_key for r in records] == ["2026-01-05", INVOCATION.idempotency_key]
