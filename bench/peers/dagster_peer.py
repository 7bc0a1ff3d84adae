"""Dagster's per-task overhead on the engine bench workloads; run in bench/peers/.venv-dagster.

Prints one JSON line: seconds per op for a 100-op sequential chain and for a 1,000-item
dynamic fan-out (DynamicOut + map + collect), each `execute_in_process` on an ephemeral
instance, best of a few runs after a warm-up.
"""

from __future__ import annotations

import json
import sys
import time

from dagster import DynamicOut, DynamicOutput, job, op

CHAIN, FANOUT = 100, 1000
QUICK = "--quick" in sys.argv


def _inc_op(index: int):  # type: ignore[no-untyped-def]
    @op(name=f"inc_{index}")
    def inc(x: int) -> int:
        return x + 1

    return inc


@op
def zero() -> int:
    return 0


INCS = [_inc_op(i) for i in range(CHAIN)]


@job
def chain_job() -> None:
    value = zero()
    for inc in INCS:
        value = inc(value)


@op(out=DynamicOut())
def items():  # type: ignore[no-untyped-def]
    for i in range(FANOUT):
        yield DynamicOutput(i, mapping_key=str(i))


@op
def inc_item(x: int) -> int:
    return x + 1


@op
def count(values: list[int]) -> int:
    return len(values)


@job
def fan_job() -> None:
    count(items().map(inc_item).collect())


def best(repeats: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        assert result.success
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    chain_job.execute_in_process()
    repeats = 1 if QUICK else 2
    per_chain = best(repeats, chain_job.execute_in_process) / (CHAIN + 1)
    per_fan = best(1, fan_job.execute_in_process) / (FANOUT + 2)
    print(json.dumps({"chain_per_task_s": per_chain, "fanout_per_task_s": per_fan}))


if __name__ == "__main__":
    main()
