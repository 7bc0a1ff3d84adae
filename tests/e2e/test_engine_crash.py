"""Durability under kill -9: executions survive worker crashes with the output of a clean run.

200 executions of a workflow with Task, Wait, Parallel and Map states are started, in waves;
the worker process (`podium worker`) is killed with SIGKILL at random moments and restarted.
Every execution must end SUCCEEDED with the output an uninterrupted run gives, and no
history may show a completed state entered twice. On PostgreSQL two workers share the work
and one of them is killed repeatedly.

Each wave is started once the (re)started worker is up, so every kill lands on work in
progress however slowly a worker process starts: a restart is mostly Python's start-up
(1.5-3.5 s on a loaded 2-core machine), which does not shrink as the engine gets faster, while
the surviving worker alone can finish the whole backlog meanwhile (it did: the restarted worker
then found no task to claim and the test failed).
"""

from __future__ import annotations

import importlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from podium.asl import execute
from podium.config import load_settings
from podium.engine import Engine
from podium.store import Store, open_store

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

EXECUTIONS = 200
KILLS = 5
# Executions started after each (re)start of the worker that is killed.
WAVE = EXECUTIONS // KILLS
FN = "arn:aws:lambda:us-east-1:123456789012:function:"

# In the workers, a short sleep keeps tasks in flight most of the time, so kills land on running
# tasks too; the reference run in this process skips it (the outputs do not depend on it).
HANDLERS = '''
import os
import time

def _pause():
    time.sleep(float(os.environ.get("CRASH_TEST_SLOW") or 0))

def double(event, context):
    _pause()
    return {"x": event["x"] * 2}

def label(event, context):
    _pause()
    return {"item": event["item"], "label": "item-" + str(event["item"])}
'''

WORKFLOW = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "double", "Payload": {"x.$": "$.x"}},
            "ResultSelector": {"x.$": "$.Payload.x"}, "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Fork"},
        "Fork": {
            "Type": "Parallel", "Next": "Items",
            "Branches": [
                {"StartAt": "Twice", "States": {"Twice": {"Type": "Task", "Resource": FN + "double", "End": True}}},
                {"StartAt": "Items0", "States": {"Items0": {
                    "Type": "Pass", "Parameters": {"items.$": "States.ArrayRange(1, 3, 1)"}, "End": True}}},
            ],
        },
        "Items": {
            "Type": "Map", "ItemsPath": "$[1].items", "MaxConcurrency": 2,
            "ItemSelector": {"item.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "Label", "States": {
                "Label": {"Type": "Task", "Resource": FN + "label", "Next": "Settle"},
                "Settle": {"Type": "Wait", "Seconds": 1, "End": True},
            }},
            "ResultPath": "$[1].labels", "End": True,
        },
    },
}


def _project(tmp_path: Path, metadata_url: str | None) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    (project / "handlers").mkdir(parents=True)
    module = f"crash_handlers_{os.getpid()}_{random.randrange(1 << 30)}"
    (project / "handlers" / f"{module}.py").write_text(HANDLERS)
    lines = []
    if metadata_url:
        lines.append(f'metadata_url = "{metadata_url}"')
    lines += ["[functions]", f'double = "{module}:double"', f'label = "{module}:label"']
    (project / "podium.toml").write_text("\n".join(lines) + "\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(project / "handlers"), *sys.path])
    env.pop("PODIUM_HOME", None)
    # Each task takes this long in its handler, so that kills find tasks running.
    env["CRASH_TEST_SLOW"] = "0.03" if metadata_url else "0.01"
    sys.path.insert(0, str(project / "handlers"))
    return project, env


def _start_worker(project: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "podium.cli.main", "worker",
        "--lease-seconds", "2", "--poll-interval", "0.02", "--function-processes", "4",
    ]
    log.parent.mkdir(exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_until_started(process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Wait for the worker's banner (in its own log), printed once it is about to run its loop."""
    deadline = time.time() + timeout
    while "podium worker" not in log.read_text():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.time() < deadline, f"worker {process.pid} did not start within {timeout} s"
        time.sleep(0.05)


def _tail(logs: Path) -> str:
    return "".join(log.read_text() for log in sorted(logs.iterdir()))[-3000:]


def _expected_outputs(module: str) -> tuple[dict[int, object], Counter[str]]:
    handlers = importlib.import_module(module)
    functions = {"double": handlers.double, "label": handlers.label}
    outputs = {}
    entered: Counter[str] = Counter()
    for x in range(EXECUTIONS):
        result = execute(WORKFLOW, {"x": x}, functions=functions)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        outputs[x] = result.output
        if x == 0:
            entered = _entered(result.events)
    return outputs, entered


def _entered(events: list[dict[str, object]]) -> Counter[str]:
    return Counter(
        str(event["details"].get("name"))  # type: ignore[attr-defined]
        for event in events if str(event["type"]).endswith("StateEntered")
    )


def _run_crash_test(tmp_path: Path, metadata_url: str | None, workers: int) -> None:
    project, env = _project(tmp_path, metadata_url)
    settings = load_settings(cwd=project, environ={})
    store = open_store(settings)
    engine = Engine(settings, store)
    engine.create_state_machine("crashy", WORKFLOW)
    module = next(iter(settings.functions.values())).split(":")[0]
    expected, entered_once = _expected_outputs(module)
    runs: dict[int, str] = {}

    logs = tmp_path / "worker-logs"
    rng = random.Random(7)
    survivors = [_start_worker(project, env, logs / f"survivor-{n}.log") for n in range(workers - 1)]
    victim = _start_worker(project, env, logs / "victim-0.log")
    kills = 0
    deadline = time.time() + 90
    try:
        while kills < KILLS:
            # A wave of executions once the (re)started worker is up: more first tasks than a
            # surviving worker takes at once (max_in_flight 8), so this one gets some too.
            _wait_until_started(victim, logs / f"victim-{kills}.log")
            for x in range(len(runs), len(runs) + WAVE):
                runs[x] = engine.start_execution("crashy", {"x": x}, name=f"run-{x}").arn
            # Kill at a random moment after the (re)started worker began running tasks.
            _wait_until_working(store, victim.pid)
            time.sleep(rng.uniform(0.0, 0.6))
            assert victim.poll() is None, _tail(logs)
            # Kill while there is work in progress, not after it is all done.
            assert engine.count_executions("RUNNING") > 0
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            victim = _start_worker(project, env, logs / f"victim-{kills}.log")
        while engine.count_executions("RUNNING") and time.time() < deadline:
            time.sleep(0.2)
    finally:
        for process in [victim, *survivors]:
            process.send_signal(signal.SIGTERM)
        for process in [victim, *survivors]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    assert kills >= KILLS
    assert len(runs) == EXECUTIONS
    abandoned = _abandoned_attempts(store)
    print(f"{kills} kills, {abandoned} task attempts abandoned by killed workers and re-run")
    for x, arn in runs.items():
        execution = engine.describe_execution(arn)
        assert execution.status == "SUCCEEDED", (x, execution.error, execution.cause, _tail(logs))
        assert execution.output == expected[x]
        events = engine.get_execution_history(arn, limit=1000).items
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        entered = Counter(
            str(e.details.get("name")) for e in events if e.type.endswith("StateEntered")
        )
        assert entered == entered_once, (x, entered)
    engine.close()
    store.dispose()


def _wait_until_working(store: Store, pid: int, timeout: float = 20.0) -> None:
    from sqlalchemy import select

    from podium.store.tables.engine import engine_task_attempts, engine_tasks

    deadline = time.time() + timeout
    # A task's row names the worker of its current attempt; an attempt another worker took
    # over (a lease that ran out while this one stalled) keeps it in engine_task_attempts.
    worker = f"%:{pid}:%"
    query = select(engine_tasks.c.worker).where(engine_tasks.c.worker.like(worker)).union_all(
        select(engine_task_attempts.c.worker).where(engine_task_attempts.c.worker.like(worker))
    ).limit(1)
    while time.time() < deadline:
        with store.connect() as connection:
            if connection.execute(query).first() is not None:
                return
        time.sleep(0.05)
    with store.connect() as connection:
        from sqlalchemy import func

        from podium.store.tables.engine import engine_executions, engine_tasks

        running = connection.execute(select(func.count()).select_from(engine_executions)
                                     .where(engine_executions.c.status == "RUNNING")).scalar_one()
        tasks = connection.execute(select(engine_tasks.c.status, engine_tasks.c.lease_owner,
                                          func.count()).group_by(engine_tasks.c.status,
                                                                 engine_tasks.c.lease_owner)).all()
    raise AssertionError(f"worker {pid} ran no task within {timeout} s; running={running} tasks={tasks}")


def _abandoned_attempts(store: Store) -> int:
    from sqlalchemy import func, select

    from podium.store.tables.engine import engine_task_attempts

    with store.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(engine_task_attempts)
            .where(engine_task_attempts.c.status == "ABANDONED")
        ).scalar_one())


def test_sqlite_worker_killed_five_times(tmp_path: Path) -> None:
    _run_crash_test(tmp_path, None, workers=1)


@pytest.mark.postgres
def test_postgres_two_workers_one_killed(tmp_path: Path, pg_url: str) -> None:
    _run_crash_test(tmp_path, pg_url, workers=2)
