"""Durable engine throughput on SQLite: transitions/s, starts/s, and the cost of a Task state.

Printed, each with its baseline measured in the same run:
1. STANDARD and EXPRESS transitions/s on a 1,000-state Pass chain, against the in-memory
   interpreter (`podium.asl.execute`, no persistence). A Pass chain needs nothing from outside,
   so it is one step and one transaction holding all of its history.
2. Executions started per second (STANDARD, a one-Wait machine: the start transition commits
   the run state, history and timer) against a bare INSERT of one row per transaction.
3. Task overhead: one function call made directly in-process vs through a worker subprocess
   (`FunctionPool`), inside an EXPRESS execution, and per Task of a 100-Task STANDARD chain run
   by a worker (dispatch + durable result + next transition; one transaction per Task, so
   this also gives the durable transitions/s when every transition needs the outside world).

4. The same 100-Task chain and a 1,000-item fan-out (Map of Tasks) on Prefect and Dagster,
   each in its own virtualenv under bench/peers/ (skipped, with a message, when absent);
   per-task time and Podium's ratio to it.

Usage: .venv/bin/python bench/engine_bench.py [--quick]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from podium.asl import compile_definition, execute
from podium.config import Settings
from podium.engine import Engine, Worker
from podium.functions import FunctionPool, FunctionSpec
from podium.store import open_store

QUICK = "--quick" in sys.argv
HANDLER = '''
def inc(event, context):
    return {"n": event.get("n", 0) + 1}
'''


def chain(n: int, state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "S0", "States": {
        f"S{i}": {**state, **({"Next": f"S{i + 1}"} if i < n - 1 else {"End": True})} for i in range(n)
    }}


CPU: dict[str, float] = {}


def best(repeats: int, run: Any, label: str = "") -> float:
    """Fastest of `repeats` timings (seconds) of `run()`; with a `label`, also records the
    CPU time this process spent in that fastest run (CPU[label])."""
    times = []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - started)
        if label and times[-1] == min(times):
            CPU[label] = time.process_time() - cpu
    return min(times)


def line(label: str, value: float, unit: str, baseline: float | None = None, base_label: str = "") -> None:
    text = f"{label:<58} {value:>12,.1f} {unit}"
    if baseline is not None:
        text += f"   baseline {base_label}: {baseline:,.1f} {unit}   ratio {value / baseline:.2f}"
    print(text)


def peers(chain_task: float, fan_task: float) -> None:
    """Per-task time of Prefect and Dagster on the same two workloads, from their own venvs."""
    import json
    import subprocess

    here = Path(__file__).with_name("peers")
    for peer in ("prefect", "dagster"):
        python = here / f".venv-{peer}" / "bin" / "python"
        if not python.exists():
            print(f"{peer}: not measured ({python} missing; see bench/peers/README.md)")
            continue
        # One timed run each (--quick): their runs take tens of seconds.
        args = [str(python), str(here / f"{peer}_peer.py"), "--quick"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            print(f"{peer}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        for label, ours, key in (("100-task chain", chain_task, "chain_per_task_s"),
                                 ("1,000-item fan-out", fan_task, "fanout_per_task_s")):
            theirs = figures[key]
            print(f"{peer} {label}: {theirs * 1e3:,.2f} ms per task vs Podium {ours * 1e3:,.2f} ms"
                  f"   Podium is {theirs / ours:,.1f}x lower")


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="podium-engine-bench-"))
    (home / "bench_handlers.py").write_text(HANDLER)
    sys.path.insert(0, str(home))
    settings = Settings.for_home(home / "home")
    store = open_store(settings)
    engine = Engine(settings, store, function_pool_size=2)
    engine.functions.add(FunctionSpec("inc", "bench_handlers:inc"))
    n = 1000
    repeats = 2 if QUICK else 5
    print(f"engine bench on {store.dialect} ({'quick' if QUICK else 'full'}), "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    # 1. Pass chain
    pass_chain = chain(n, {"Type": "Pass", "Parameters": {"i.$": "$.i"}})
    machine = compile_definition(pass_chain)
    engine.create_state_machine("pass-chain", pass_chain)
    engine.create_state_machine("pass-chain-x", pass_chain, type="EXPRESS")
    memory = n / best(repeats, lambda: execute(machine, {"i": 1}))
    standard = n / best(repeats, lambda: engine.start_execution("pass-chain", {"i": 1}))
    express = n / best(repeats, lambda: engine.start_sync_execution("pass-chain-x", {"i": 1}))
    line("STANDARD transitions/s, 1,000-state Pass chain", standard, "tr/s", memory, "in-memory")
    line("EXPRESS transitions/s, 1,000-state Pass chain", express, "tr/s", memory, "in-memory")

    worker = Worker(engine)

    # 3. Starts per second vs a bare one-row transaction.
    engine.create_state_machine("nap", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    starts = 200 if QUICK else 1000
    elapsed = best(1, lambda: [engine.start_execution("nap", {"i": i}) for i in range(starts)])
    table = Table("bench_rows", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(50)))
    table.create(store.engine)
    statement = insert(table)

    def bare() -> None:
        for i in range(starts):
            with store.begin() as connection:
                connection.execute(statement, {"v": str(i)})

    bare_rate = starts / best(1, bare)
    line("executions started/s (STANDARD)", starts / elapsed, "/s", bare_rate, "1-row txn")

    # 4. Task overhead.
    spec = engine.functions.get("inc")
    import bench_handlers

    calls = 2000 if QUICK else 10000
    direct = best(3, lambda: [bench_handlers.inc({"n": i}, None) for i in range(calls)]) / calls
    with FunctionPool(1) as pool:
        pool.invoke(spec, {})
        pooled = best(3, lambda: [pool.invoke(spec, {"n": i}) for i in range(calls // 10)]) / (calls // 10)
    one_task = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "inc", "End": True}}}
    engine.create_state_machine("one-task-x", one_task, type="EXPRESS")
    engine.start_sync_execution("one-task-x", {})
    express_task = best(3, lambda: [engine.start_sync_execution("one-task-x", {}) for _ in range(50)]) / 50
    tasks = 100
    engine.create_state_machine("task-chain", chain(tasks, {"Type": "Task", "Resource": "inc"}))

    def task_chain() -> None:
        arn = engine.start_execution("task-chain", {}).arn
        worker.run_until_done([arn], 120)

    per_task = best(3, task_chain, "chain") / tasks
    items = 1000
    engine.create_state_machine("fan-out", {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"n.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "Inc", "States": {"Inc": {"Type": "Task", "Resource": "inc", "End": True}}},
        "End": True}}})

    def fan_out() -> None:
        arn = engine.start_execution("fan-out", {"items": list(range(items))}).arn
        worker.run_until_done([arn], 300)

    per_item = best(1, fan_out, "fan") / items
    print(f"{'direct in-process call':<58} {direct * 1e6:>12,.1f} us")
    line("Task call through a function subprocess, overhead", (pooled - direct) * 1e6, "us")
    line("one-Task EXPRESS execution (start..result), overhead", (express_task - direct) * 1e6, "us")
    line("per Task of a 100-Task STANDARD chain (durable), overhead", (per_task - direct) * 1e6, "us")
    line("  = durable Task transitions/s (one transaction each)", 1 / per_task, "tr/s")
    line("  engine process CPU per Task (chain)", CPU["chain"] / tasks * 1e6, "us")
    line("per Task of a 1,000-item Map fan-out (durable), overhead", (per_item - direct) * 1e6, "us")
    line("  engine process CPU per Task (fan-out)", CPU["fan"] / items * 1e6, "us")
    peers(per_task, per_item)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    worker.close()
    engine.close()
    store.dispose()


if __name__ == "__main__":
    main()
