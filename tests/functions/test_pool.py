"""Function invocations run in reusable subprocesses; failures become documented ASL errors."""

from __future__ import annotations

import threading
import time

import pytest

from podium.functions import FunctionError, FunctionPool, FunctionSpec


def spec(module: str, name: str, **limits) -> FunctionSpec:
    return FunctionSpec(name, f"{module}:{name}", **limits)


def test_result_context_and_process_reuse(handlers: str) -> None:
    with FunctionPool(1) as pool:
        first = pool.invoke(spec(handlers, "double", timeout_seconds=5), {"x": 21})
        second = pool.invoke(spec(handlers, "double"), {"x": 1})
    assert first["x"] == 42 and first["function"] == "double"
    assert 0 < first["remaining_ms"] <= 5000
    assert first["pid"] == second["pid"]


@pytest.mark.parametrize(
    ("handler", "error", "cause"),
    [
        ("boom", "KeyError", "missing column"),
        ("die", "Runtime.ExitError", "exit status 3"),
        ("kill_self", "Runtime.ExitError", "signal: kill"),
        ("not_json", "Runtime.MarshalError", "not JSON"),
        ("absent", "Runtime.ImportModuleError", "absent"),
    ],
)
def test_failures_become_asl_errors(handlers: str, handler: str, error: str, cause: str) -> None:
    with FunctionPool(1) as pool:
        with pytest.raises(FunctionError) as info:
            pool.invoke(spec(handlers, handler), {})
        assert info.value.error == error
        assert cause in info.value.cause
        # The pool keeps serving after any failure.
        assert pool.invoke(spec(handlers, "double"), {"x": 2})["x"] == 4


def test_timeout_kills_the_process_and_reports_states_timeout(handlers: str) -> None:
    with FunctionPool(1) as pool:
        started = time.time()
        with pytest.raises(FunctionError) as info:
            pool.invoke(spec(handlers, "hang", timeout_seconds=0.5), {})
        assert info.value.error == "States.Timeout"
        assert time.time() - started < 5
        assert pool.invoke(spec(handlers, "double"), {"x": 3})["x"] == 6


def test_a_process_that_outgrew_its_memory_is_replaced(handlers: str) -> None:
    with FunctionPool(1) as pool:
        leaky = spec(handlers, "leak", memory_mb=100)
        first = pool.invoke(leaky, {})
        second = pool.invoke(leaky, {})
    assert first != second  # a fresh process after the one that grew past 100 MB


def test_concurrency_limit_per_function(handlers: str) -> None:
    limited = spec(handlers, "slow", concurrency=1)
    finished: list[float] = []
    with FunctionPool(3) as pool:
        pool.warm(2)
        threads = [
            threading.Thread(target=lambda: finished.append(pool.invoke(limited, {"seconds": 0.4})))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(finished) == 2
    assert abs(finished[0] - finished[1]) >= 0.35  # one after the other, not side by side


def test_start_without_blocking_then_wait_on_many(handlers: str) -> None:
    """`start` returns at once; the invocations' connections are waited on together."""
    from multiprocessing.connection import wait

    double = FunctionSpec("double", f"{handlers}:double")
    hang = FunctionSpec("hang", f"{handlers}:hang", timeout_seconds=0.5)
    with FunctionPool(2) as pool:
        first = pool.start(double, {"x": 1}, block=False)
        stuck = pool.start(hang, {}, block=False)
        assert first is not None and stuck is not None
        assert pool.start(double, {"x": 2}, block=False) is None  # both slots taken: no waiting
        assert wait([first.connection, stuck.connection], 20) == [first.connection]
        assert pool.result(first)["x"] == 2
        again = pool.start(double, {"x": 3}, block=False)  # the slot came back with the result
        assert again is not None and pool.result(again)["x"] == 6
        with pytest.raises(FunctionError) as info:
            pool.result(stuck)  # waits out its deadline, then kills it
        assert info.value.error == "States.Timeout"
        last = pool.start(double, {"x": 4}, block=False)
        assert last is not None and pool.result(last)["x"] == 8
