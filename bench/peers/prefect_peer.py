"""Prefect's per-task overhead on the engine bench workloads; run in bench/peers/.venv-prefect.

Prints one JSON line: seconds per task for a 100-task sequential chain and for a
1,000-item fan-out (task.map), each the best of a few runs after a warm-up, in Prefect's
default local mode (ephemeral API server on SQLite under a temporary PREFECT_HOME).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-peer-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# On a loaded machine the ephemeral API server takes longer than the default 20 s to start.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

from prefect import flow, task  # noqa: E402

CHAIN, FANOUT = 100, 1000
QUICK = "--quick" in sys.argv


@task
def inc(n: int) -> int:
    return n + 1


@flow
def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = inc(value)
    return value


@flow
def fan_out(n: int) -> int:
    return len([future.result() for future in inc.map(range(n))])


def best(repeats: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    chain(2)
    repeats = 1 if QUICK else 2
    per_chain = best(repeats, lambda: chain(CHAIN)) / CHAIN
    per_fan = best(1, lambda: fan_out(FANOUT)) / FANOUT
    print(json.dumps({"chain_per_task_s": per_chain, "fanout_per_task_s": per_fan}))


if __name__ == "__main__":
    main()
