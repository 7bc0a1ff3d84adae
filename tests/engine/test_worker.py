"""The worker runs STANDARD executions durably: tasks, waits, branches, callbacks, timeouts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from podium.engine import Engine, Worker
from podium.errors import ConflictError, NotFoundError

LAMBDA = "arn:aws:states:::lambda:invoke"

FLOW = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task", "Resource": LAMBDA,
            "Parameters": {"FunctionName": "double", "Payload": {"x.$": "$.x"}},
            "ResultSelector": {"x.$": "$.Payload.x"}, "Next": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Both"},
        "Both": {
            "Type": "Parallel", "Next": "Each",
            "Branches": [
                {"StartAt": "Again", "States": {"Again": {
                    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
                    "End": True}}},
                {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}},
            ],
        },
        "Each": {
            "Type": "Map", "ItemsPath": "$", "End": True,
            "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {
                "Type": "Task", "Resource": "echo", "End": True}}},
        },
    },
}


def worker(engine: Engine, **options) -> Worker:
    options.setdefault("poll_interval", 0.02)
    return Worker(engine, **options)


def test_task_wait_parallel_map_run_to_the_same_output(engine: Engine) -> None:
    engine.create_state_machine("flow", FLOW)
    runs = [engine.start_execution("flow", {"x": x}) for x in range(3)]
    started = time.time()
    w = worker(engine)
    w.run_until_idle(30)
    w.close()
    assert time.time() - started >= 1.0  # the Wait really waited
    for x, run in enumerate(runs):
        done = engine.describe_execution(run.arn)
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        assert done.output == [{"x": 4 * x}, {"x": 2 * x}]
        types = [e.type for e in engine.get_execution_history(run.arn, limit=1000).items]
        assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
        assert types.count("MapIterationSucceeded") == 2


def test_function_errors_are_asl_errors_and_the_engine_keeps_serving(engine: Engine) -> None:
    def one(resource: str) -> dict:
        return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}

    for name in ("boom", "hang", "die", "double", "missing"):
        engine.create_state_machine(name, one(name))
    runs = {name: engine.start_execution(name, {"x": 1}) for name in ("boom", "hang", "die", "double", "missing")}
    w = worker(engine)
    w.run_until_idle(40)
    result = {name: engine.describe_execution(run.arn) for name, run in runs.items()}
    assert result["boom"].error == "ValueError"
    assert "bad input" in result["boom"].cause and "errorMessage" in result["boom"].cause
    assert result["hang"].error == "States.Timeout"
    assert result["die"].error == "Runtime.ExitError"
    assert "exit status 7" in result["die"].cause
    assert result["missing"].error == "Lambda.ResourceNotFoundException"
    assert result["double"].status == "SUCCEEDED" and result["double"].output == {"x": 2}
    # After all that, the same worker still runs functions.
    again = engine.start_execution("double", {"x": 5})
    w.run_until_idle(20)
    w.close()
    assert engine.describe_execution(again.arn).output == {"x": 10}


def test_retry_and_catch_work_on_function_errors(engine: Engine) -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "boom",
              "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}],
              "End": True},
        "Done": {"Type": "Pass", "End": True}}}
    engine.create_state_machine("m", definition)
    run = engine.start_execution("m", {"x": 1})
    w = worker(engine)
    w.run_until_idle(20)
    w.close()
    done = engine.describe_execution(run.arn)
    assert done.status == "SUCCEEDED"
    assert done.output["err"]["Error"] == "ValueError"
    types = [e.type for e in engine.get_execution_history(run.arn, limit=1000).items]
    assert types.count("TaskFailed") == 2


def test_wait_for_task_token_success_failure_and_heartbeat(engine: Engine) -> None:
    definition = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": LAMBDA + ".waitForTaskToken", "HeartbeatSeconds": 2,
        "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True}}}
    engine.create_state_machine("cb", definition)
    ok = engine.start_execution("cb", name="ok")
    bad = engine.start_execution("cb", name="bad")
    late = engine.start_execution("cb", name="late")
    w = worker(engine)
    tokens = {}
    deadline = time.time() + 20
    while len(tokens) < 3 and time.time() < deadline:
        w.run_once()
        for run in (ok, bad, late):
            for event in engine.get_execution_history(run.arn, limit=100).items:
                if event.type == "TaskScheduled":
                    tokens[run.name] = event.details["parameters"]["Payload"]["token"]
        time.sleep(0.02)
    # The function returned, but the tasks wait for their tokens.
    for _ in range(20):
        w.run_once()
    assert engine.describe_execution(ok.arn).status == "RUNNING"
    engine.send_task_heartbeat(tokens["ok"])
    engine.send_task_success(tokens["ok"], {"answer": 42})
    engine.send_task_failure(tokens["bad"], "Human.Rejected", "no")
    w.run_until_idle(20)
    w.close()
    assert engine.describe_execution(ok.arn).output == {"answer": 42}
    failed = engine.describe_execution(bad.arn)
    assert (failed.error, failed.cause) == ("Human.Rejected", "no")
    timed_out = engine.describe_execution(late.arn)
    assert (timed_out.status, timed_out.error) == ("FAILED", "States.HeartbeatTimeout")
    with pytest.raises(ConflictError):
        engine.send_task_success(tokens["late"], {})
    with pytest.raises(NotFoundError):
        engine.send_task_success("no-such-token", {})


def test_task_and_execution_timeouts(engine: Engine) -> None:
    engine.create_state_machine("slow-task", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": LAMBDA + ".waitForTaskToken", "TimeoutSeconds": 1,
        "Parameters": {"FunctionName": "echo", "Payload": {}}, "End": True}}})
    engine.create_state_machine("slow-run", {"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    task = engine.start_execution("slow-task")
    whole = engine.start_execution("slow-run")
    w = worker(engine)
    w.run_until_idle(20)
    w.close()
    assert engine.describe_execution(task.arn).error == "States.Timeout"
    assert engine.describe_execution(whole.arn).status == "TIMED_OUT"


def test_waiting_executions_hold_no_threads(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    engine.create_state_machine("nap", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    runs = [engine.start_execution("nap", {"i": i}) for i in range(1000)]
    # A worker that was not running when they started (as after a restart) picks them up.
    w = worker(engine, batch_size=500)
    before = threading.active_count()
    w.run_once()
    assert threading.active_count() == before
    w.run_until_idle(30)
    w.close()
    assert engine.count_executions("SUCCEEDED") == len(runs)
    lateness = [
        (done.stop_time - done.start_time).total_seconds() - 2
        for done in engine.list_executions("nap", limit=1000).items
    ]
    print(f"max lateness {max(lateness):.3f} s")
    assert min(lateness) >= 0 and max(lateness) < 1.0


def test_redrive_reruns_only_what_failed(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    flag = tmp_path / "flag"
    definition = {"StartAt": "First", "States": {
        "First": {"Type": "Task", "Resource": "count", "Parameters": {"log": str(log), "tag": "first"},
                  "ResultPath": None, "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "fail_unless_flag",
                   "Parameters": {"flag": str(flag)}, "End": True}}}
    engine.create_state_machine("m", definition)
    run = engine.start_execution("m")
    w = worker(engine)
    w.run_until_idle(20)
    failed = engine.describe_execution(run.arn)
    assert (failed.status, failed.error) == ("FAILED", "RuntimeError")
    flag.write_text("go")
    redriven = engine.redrive_execution(run.arn)
    assert redriven.status == "RUNNING" and redriven.redrive_count == 1
    w.run_until_idle(20)
    w.close()
    done = engine.describe_execution(run.arn)
    assert done.status == "SUCCEEDED" and done.output == {"ok": True}
    assert log.read_text().splitlines() == ["first"]
    types = [e.type for e in engine.get_execution_history(run.arn, limit=1000).items]
    assert types.count("ExecutionRedriven") == 1
    ids = [e.id for e in engine.get_execution_history(run.arn, limit=1000).items]
    assert ids == list(range(1, len(ids) + 1))


def test_stop_cancels_running_tasks(engine: Engine) -> None:
    engine.create_state_machine("cb", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": LAMBDA + ".waitForTaskToken",
        "Parameters": {"FunctionName": "echo", "Payload": {}}, "End": True}}})
    run = engine.start_execution("cb")
    w = worker(engine)
    for _ in range(30):
        w.run_once()
        time.sleep(0.01)
    engine.stop_execution(run.arn, error="Stop", cause="now")
    w.run_until_idle(10)
    w.close()
    assert engine.describe_execution(run.arn).status == "ABORTED"


def test_express_runs_in_memory_and_keeps_no_history(engine: Engine) -> None:
    engine.create_state_machine("fast", FLOW, type="EXPRESS")
    synced = engine.start_sync_execution("fast", {"x": 2})
    assert synced.status == "SUCCEEDED" and synced.output == [{"x": 8}, {"x": 4}]
    assert synced.arn.split(":")[5] == "express"
    queued = engine.start_execution("fast", {"x": 1})
    w = worker(engine)
    w.run_until_idle(20)
    w.close()
    assert engine.describe_execution(queued.arn).output == [{"x": 4}, {"x": 2}]
    with pytest.raises(Exception) as info:
        engine.get_execution_history(queued.arn)
    assert "EXPRESS" in str(info.value)


def test_sync_express_returns_its_end_while_a_worker_polls_for_express_runs(engine: Engine) -> None:
    """StartSyncExecution starts its execution leased to itself: a worker polling for EXPRESS
    executions at the same time never takes it (it used to, between the start and the claim,
    and the call then answered RUNNING), and the answer is what describe reads back."""
    engine.create_state_machine("fast", FLOW, type="EXPRESS")
    w = worker(engine, poll_interval=0.001)
    thread = w.start()
    try:
        for x in range(4):
            synced = engine.start_sync_execution("fast", {"x": x})
            assert synced.status == "SUCCEEDED" and synced.output == [{"x": 4 * x}, {"x": 2 * x}]
            stored = engine.describe_execution(synced.arn)
            assert (stored.status, stored.output, stored.stop_time) == ("SUCCEEDED", synced.output, synced.stop_time)
        failed = engine.start_sync_execution("fast", {"y": 1})
        assert failed.status == "FAILED" and failed.error
        assert (failed.error, failed.cause) == (engine.describe_execution(failed.arn).error,
                                                engine.describe_execution(failed.arn).cause)
    finally:
        w.stop()
        thread.join(10)
        w.close()


def test_worker_on_a_background_thread(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    engine.create_state_machine("one", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "double", "End": True}}})
    w = worker(engine)
    thread = w.start()
    run = engine.start_execution("one", {"x": 21})
    deadline = time.time() + 20
    while engine.describe_execution(run.arn).status == "RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    w.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert engine.describe_execution(run.arn).output == {"x": 42}


def test_an_interpreter_error_fails_only_its_execution(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import podium.engine.transitions as transitions

    engine = sqlite_engine
    engine.create_state_machine("nap", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    engine.create_state_machine("ok", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    broken = engine.start_execution("nap", name="broken")
    real_step = transitions.step

    def failing_step(machine, run_state, event, now):  # type: ignore[no-untyped-def]
        if run_state.context.get("Execution", {}).get("Name") == "broken":
            raise KeyError("interpreter bug")
        return real_step(machine, run_state, event, now)

    monkeypatch.setattr(transitions, "step", failing_step)
    healthy = engine.start_execution("ok", name="healthy")
    w = worker(engine)
    w.run_until_idle(10)
    w.close()
    failed = engine.describe_execution(broken.arn)
    assert (failed.status, failed.error) == ("FAILED", "States.Runtime")
    assert "interpreter bug" in failed.cause
    events = engine.get_execution_history(broken.arn).items
    assert events[-1].type == "ExecutionFailed"
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert engine.describe_execution(healthy.arn).status == "SUCCEEDED"


def test_redrive_keeps_a_parallel_branch_that_succeeded(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    flag = tmp_path / "flag"
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "count",
                                          "Parameters": {"log": str(log), "tag": "a"}, "End": True}}},
        {"StartAt": "Later", "States": {
            "Later": {"Type": "Wait", "Seconds": 1, "Next": "B"},
            "B": {"Type": "Task", "Resource": "fail_unless_flag", "Parameters": {"flag": str(flag)},
                  "End": True}}},
    ]}}}
    engine.create_state_machine("par", definition)
    run = engine.start_execution("par")
    w = worker(engine)
    w.run_until_idle(20)
    assert engine.describe_execution(run.arn).status == "FAILED"
    flag.write_text("go")
    engine.redrive_execution(run.arn)
    w.run_until_idle(20)
    w.close()
    done = engine.describe_execution(run.arn)
    assert done.status == "SUCCEEDED"
    assert done.output == [{"tag": "a"}, {"ok": True}]
    assert log.read_text().splitlines() == ["a"]


def test_express_run_of_a_dead_worker_is_run_again(engine: Engine) -> None:
    engine.create_state_machine("fast", FLOW, type="EXPRESS")
    run = engine.start_execution("fast", {"x": 3})
    # A worker took it and died: its lease must run out before anyone else runs it.
    assert engine.claim_express(run.arn, owner="dead-worker", lease_seconds=1.0)
    w = worker(engine)
    w.run_once()
    assert engine.describe_execution(run.arn).status == "RUNNING"
    w.run_until_idle(20)
    w.close()
    done = engine.describe_execution(run.arn)
    assert done.status == "SUCCEEDED" and done.output == [{"x": 12}, {"x": 6}]


def test_the_wait_for_results_ends_on_a_wake_up_or_its_timeout(engine: Engine) -> None:
    """The loop's wait (no task running) sleeps until its timeout, and a wake-up (a result
    queued by a thread, work committed by the API) ends it at once, also when the poller is
    reused from the previous wait."""
    w = worker(engine)
    try:
        for _ in range(2):
            started = time.monotonic()
            assert w._wait_readable(0.05) is False
            assert time.monotonic() - started >= 0.04
            w.poll_now()
            started = time.monotonic()
            assert w._wait_readable(5.0) is True
            assert time.monotonic() - started < 1.0
            w._collect(0.001)  # drains the wake-up pipe: the next wait sleeps again
    finally:
        w.close()


def test_wake_at_stays_the_earliest_timer_when_a_result_sets_none(engine: Engine) -> None:
    """A transition applying a task result leaves `wake_at` alone unless it sets a timer; it is
    still the earliest due timer of the execution: the first Task's timeout (its row outlives the
    task) after the second Task's result, then the callback Task's shorter timeout."""
    from sqlalchemy import func, select

    from podium.store.tables.engine import engine_executions, engine_timers

    engine.create_state_machine("kept", {"StartAt": "First", "States": {
        "First": {"Type": "Task", "Resource": "echo", "TimeoutSeconds": 300, "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "echo", "Next": "Ask"},
        "Ask": {"Type": "Task", "Resource": LAMBDA + ".waitForTaskToken", "TimeoutSeconds": 100,
                "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}}, "End": True},
    }})
    run = engine.start_execution("kept", {"x": 1})
    w = worker(engine)

    def wake_and_earliest() -> tuple[float | None, float | None]:
        with engine.store.engine.connect() as connection:
            wake = connection.execute(
                select(engine_executions.c.wake_at).where(engine_executions.c.arn == run.arn)).scalar_one()
            earliest = connection.execute(
                select(func.min(engine_timers.c.due)).where(engine_timers.c.execution_arn == run.arn)).scalar_one()
        return wake, earliest

    def entered(name: str) -> bool:
        return any(e.type == "TaskStateEntered" and e.details["name"] == name
                   for e in engine.get_execution_history(run.arn, limit=100).items)

    started = time.time()
    deadline = started + 20
    while not entered("Ask") and time.time() < deadline:
        if entered("Second"):
            wake, earliest = wake_and_earliest()
            assert earliest is not None and wake == pytest.approx(earliest, abs=1e-3)
            assert earliest >= started + 299
        w.run_once()
        time.sleep(0.01)
    token = next(e.details["parameters"]["Payload"]["token"]
                 for e in engine.get_execution_history(run.arn, limit=100).items
                 if e.type == "TaskScheduled" and "FunctionName" in e.details["parameters"])
    wake, earliest = wake_and_earliest()
    assert earliest is not None and wake == pytest.approx(earliest, abs=1e-3)
    assert earliest < started + 101
    engine.send_task_success(token, {"done": True})
    w.run_until_idle(20)
    w.close()
    assert engine.describe_execution(run.arn).output == {"done": True}


def test_an_execution_started_in_the_workers_process_runs_without_waiting_for_a_poll(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    engine.create_state_machine("one", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "double", "End": True}}})
    w = worker(engine, poll_interval=60.0)
    thread = w.start()
    try:
        time.sleep(0.3)  # the loop has made its first poll and waits for the next, a minute away
        run = engine.start_execution("one", {"x": 21})
        deadline = time.time() + 15
        while engine.describe_execution(run.arn).status == "RUNNING" and time.time() < deadline:
            time.sleep(0.02)
        assert engine.describe_execution(run.arn).output == {"x": 42}
    finally:
        w.stop()
        w.close()
        thread.join(5)


def test_a_task_row_holds_its_attempt_and_a_reclaimed_one_leaves_an_abandoned_record(engine: Engine) -> None:
    from sqlalchemy import select

    from podium.store.tables.engine import engine_task_attempts, engine_tasks

    engine.create_state_machine("one", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "echo", "End": True}}})
    run = engine.start_execution("one", {"x": 1})
    dead = worker(engine, lease_seconds=0.5)
    dead.run_once()  # claims the task and sends it to a function process...
    dead.close()  # ...and dies before its result is recorded
    with engine.store.engine.connect() as connection:
        task = connection.execute(select(engine_tasks)).mappings().one()
    assert (task["status"], task["attempt"], task["worker"]) == ("RUNNING", 1, dead.worker_id)
    assert task["started_at"] is not None
    alive = worker(engine)
    alive.run_until_done([run.arn], 20)
    alive.close()
    assert engine.describe_execution(run.arn).output == {"x": 1}
    with engine.store.engine.connect() as connection:
        task = connection.execute(select(engine_tasks)).mappings().one()
        attempts = connection.execute(select(engine_task_attempts)).mappings().all()
    assert (task["status"], task["attempt"], task["worker"]) == ("SUCCEEDED", 2, alive.worker_id)
    assert [(a["attempt"], a["worker"], a["status"]) for a in attempts] == [(1, dead.worker_id, "ABANDONED")]
    # The dead worker's attempt ended when the live one took the task over.
    assert attempts[0]["started_at"] < attempts[0]["finished_at"] == task["started_at"]


@pytest.mark.postgres
def test_lease_renewal_skips_a_task_row_another_transaction_holds(settings, pg_url: str) -> None:
    """On PostgreSQL a worker renewing its leases waits for no row lock (so it cannot deadlock
    with a transaction that waits for one of its own): the row another transaction holds
    keeps its lease, which the next round renews; the others are renewed."""
    from sqlalchemy import insert, select, text

    from podium.store import open_store
    from podium.store.tables.engine import engine_tasks

    store = open_store(pg_url)
    built = Engine(settings, store)
    w = worker(built)
    row = {
        "execution_arn": "arn:x", "resource": "r", "input": "{}", "status": "RUNNING", "attempt": 1,
        "wait_for_token": False, "lease_owner": w.worker_id, "lease_expiry": 1.0, "scheduled_at": 1.0,
        "worker": w.worker_id, "started_at": 1.0,
    }
    with store.begin() as connection:
        connection.execute(insert(engine_tasks), [{**row, "task_id": "held"}, {**row, "task_id": "free"}])
    holder = store.engine.connect()
    try:
        holder.begin()
        holder.execute(select(engine_tasks.c.task_id).where(engine_tasks.c.task_id == "held").with_for_update())
        connection = w._connect()
        with connection.begin():
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))  # waiting would fail, not hang
            started = time.monotonic()
            w._renew_leases(connection, 1000.0)
            assert time.monotonic() - started < 2.0
        holder.rollback()
        with store.connect() as reader:
            leases = dict(reader.execute(select(engine_tasks.c.task_id, engine_tasks.c.lease_expiry)).all())
        assert leases == {"held": 1.0, "free": 1000.0 + w.lease_seconds}
    finally:
        holder.close()
        w.close()
        built.close()
        store.dispose()
