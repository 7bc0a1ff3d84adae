"""The engine API on SQLite and PostgreSQL: state machines, versions, aliases, executions."""

from __future__ import annotations

import pytest

from podium.engine import Engine
from podium.errors import ConflictError, NotFoundError, ValidationError

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 1}, "End": True}}}
PASS2 = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 2}, "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def test_create_describe_update_list_delete(engine: Engine) -> None:
    created = engine.create_state_machine("orders", PASS, description="first")
    assert created.arn.endswith(":stateMachine:orders")
    assert created.type == "STANDARD"
    assert engine.create_state_machine("orders", PASS).revision_id == created.revision_id
    with pytest.raises(ConflictError) as info:
        engine.create_state_machine("orders", PASS2)
    assert info.value.code == "StateMachineAlreadyExists"
    updated = engine.update_state_machine("orders", definition=PASS2, description="second")
    assert updated.definition == PASS2 and updated.description == "second"
    assert updated.revision_id != created.revision_id
    engine.create_state_machine("express-one", PASS, type="express")
    assert [m.name for m in engine.list_state_machines()] == ["express-one", "orders"]
    engine.delete_state_machine("orders")
    with pytest.raises(NotFoundError):
        engine.describe_state_machine("orders")


def test_bad_definition_is_rejected_before_it_is_stored(engine: Engine) -> None:
    with pytest.raises(ValidationError):
        engine.create_state_machine("bad", {"StartAt": "Missing", "States": {}})
    with pytest.raises(ValidationError):
        engine.create_state_machine("bad name!", PASS)
    with pytest.raises(ValidationError):
        engine.create_state_machine("typed", PASS, type="FAST")
    assert engine.list_state_machines() == []


def test_yaml_text_definition(engine: Engine) -> None:
    text = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n"
    assert engine.create_state_machine("yaml", text).definition["StartAt"] == "P"


def test_pass_only_execution_finishes_at_start_with_history(engine: Engine) -> None:
    engine.create_state_machine("m", PASS)
    execution = engine.start_execution("m", {"in": 1}, name="run-1")
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"v": 1}
    assert execution.input == {"in": 1}
    types = [event.type for event in engine.get_execution_history(execution.arn).items]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_start_with_same_name_is_idempotent_and_a_different_input_conflicts(engine: Engine) -> None:
    engine.create_state_machine("m", WAIT)
    first = engine.start_execution("m", {"a": 1, "b": 2}, name="nightly")
    again = engine.start_execution("m", {"b": 2, "a": 1}, name="nightly")
    assert again.arn == first.arn
    with pytest.raises(ConflictError) as info:
        engine.start_execution("m", {"a": 2}, name="nightly")
    assert info.value.code == "ExecutionAlreadyExists"
    assert engine.count_executions() == 1


def test_running_execution_keeps_its_definition_after_update(engine: Engine) -> None:
    engine.create_state_machine("m", WAIT)
    running = engine.start_execution("m")
    engine.update_state_machine("m", definition=PASS)
    assert engine.describe_execution(running.arn).revision_id == running.revision_id
    assert engine.start_execution("m").status == "SUCCEEDED"


def test_versions_and_aliases_route_executions(engine: Engine) -> None:
    engine.create_state_machine("m", PASS, publish=True)
    engine.update_state_machine("m", definition=PASS2)
    v2 = engine.publish_version("m", "two")
    assert v2.version == 2
    assert engine.publish_version("m").version == 2  # unchanged definition: same version
    assert [v.version for v in engine.list_versions("m")] == [2, 1]
    assert engine.start_execution("m:1").output == {"v": 1}
    engine.create_alias("m", "prod", [{"version": 1, "weight": 100}])
    run = engine.start_execution("m:prod")
    assert (run.version, run.alias, run.output) == (1, "prod", {"v": 1})
    engine.update_alias("m", "prod", {2: 100})
    assert engine.start_execution("m:prod").output == {"v": 2}
    engine.update_alias("m", "prod", {1: 50, 2: 50})
    outputs = {engine.start_execution("m:prod").output["v"] for _ in range(40)}
    assert outputs == {1, 2}
    with pytest.raises(ValidationError):
        engine.update_alias("m", "prod", {1: 60, 2: 60})
    with pytest.raises(NotFoundError):
        engine.create_alias("m", "beta", {9: 100})
    with pytest.raises(ConflictError):
        engine.delete_version("m", 1)
    assert [a.name for a in engine.list_aliases("m")] == ["prod"]
    assert engine.describe_state_machine("m:1").definition == PASS
    assert len(engine.list_executions("m:prod", limit=1000).items) == 42


def test_list_executions_filters_and_pages(engine: Engine) -> None:
    engine.create_state_machine("m", PASS)
    engine.create_state_machine("w", WAIT)
    for index in range(5):
        engine.start_execution("m", {"i": index})
    engine.start_execution("w")
    seen = []
    token = None
    while True:
        page = engine.list_executions("m", limit=2, next_token=token)
        seen.extend(page.items)
        token = page.next_token
        if token is None:
            break
    assert sorted(e.input["i"] for e in seen) == [0, 1, 2, 3, 4]
    assert [e.status for e in engine.list_executions(status="RUNNING").items] == ["RUNNING"]
    with pytest.raises(ValidationError):
        engine.list_executions(next_token="not-a-token")


def test_stop_aborts_with_error_and_cause(engine: Engine) -> None:
    engine.create_state_machine("w", WAIT)
    run = engine.start_execution("w")
    stopped = engine.stop_execution(run.arn, error="Ops.Cancelled", cause="bad data")
    assert (stopped.status, stopped.error, stopped.cause) == ("ABORTED", "Ops.Cancelled", "bad data")
    assert stopped.stop_time is not None
    history = engine.get_execution_history(run.arn, reverse=True, limit=1).items
    assert history[0].type == "ExecutionAborted"
    with pytest.raises(ConflictError):
        engine.stop_execution(run.arn)
    with pytest.raises(NotFoundError):
        engine.stop_execution(run.arn + "-nope")


def test_history_pages_in_both_orders(engine: Engine) -> None:
    chain = {"StartAt": "S0", "States": {
        f"S{i}": {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < 9 else {"End": True})}
        for i in range(10)
    }}
    engine.create_state_machine("chain", chain)
    run = engine.start_execution("chain")
    forward, token = [], None
    while True:
        page = engine.get_execution_history(run.arn, limit=7, next_token=token)
        forward.extend(e.id for e in page.items)
        if page.next_token is None:
            break
        token = page.next_token
    assert forward == list(range(1, 23))
    backward, token = [], None
    while True:
        page = engine.get_execution_history(run.arn, reverse=True, limit=5, next_token=token)
        backward.extend(e.id for e in page.items)
        if page.next_token is None:
            break
        token = page.next_token
    assert backward == list(range(22, 0, -1))


def test_redrive_needs_a_failed_standard_execution(engine: Engine) -> None:
    engine.create_state_machine("m", PASS)
    run = engine.start_execution("m")
    with pytest.raises(ConflictError) as info:
        engine.redrive_execution(run.arn)
    assert info.value.code == "ExecutionNotRedrivable"


def test_default_execution_names_are_uuids_that_sort_in_start_order(engine: Engine) -> None:
    import uuid

    engine.create_state_machine("nap", WAIT)
    names = [engine.start_execution("nap").name for _ in range(20)]
    # Later executions' rows (history, tasks) append to their indexes instead of splitting pages.
    assert names == sorted(names)
    assert {uuid.UUID(name).version for name in names} == {7}
