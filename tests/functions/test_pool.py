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


def test_queued_invocations_answer_in_order_from_one_process(handlers: str) -> None:
    """With queue_depth, non-blocking starts queue behind a busy process instead of failing;
    `ready` says which reply may be collected without waiting."""
    double = FunctionSpec("double", f"{handlers}:double", timeout_seconds=5)
    with FunctionPool(1, queue_depth=4) as pool:
        calls = [pool.start(double, {"x": i}, block=False, defer=True) for i in range(4)]
        assert all(call is not None for call in calls)
        assert pool.start(double, {"x": 9}, block=False) is None  # the queue is full
        pool.flush()
        results = [pool.result(call) for call in reversed(calls)]  # any order of collection
        assert [r["x"] for r in reversed(results)] == [0, 2, 4, 6]
        assert len({r["pid"] for r in results}) == 1
        # Each one's timeout (and Lambda's remaining time) starts when it starts, not when queued.
        assert all(r["remaining_ms"] > 4000 for r in results)
        again = pool.start(double, {"x": 5}, block=False)
        assert again is not None and pool.result(again)["x"] == 10


def test_invocations_queued_behind_a_hung_one_run_in_a_fresh_process(handlers: str) -> None:
    hang = FunctionSpec("hang", f"{handlers}:hang", timeout_seconds=0.5)
    double = FunctionSpec("double", f"{handlers}:double")
    with FunctionPool(1, queue_depth=3) as pool:
        stuck = pool.start(hang, {}, block=False)
        behind = [pool.start(double, {"x": i}, block=False) for i in (1, 2)]
        assert stuck is not None and all(call is not None for call in behind)
        assert not pool.ready(behind[0])  # not its turn: the hung call is first in the pipe
        with pytest.raises(FunctionError) as info:
            pool.result(stuck)
        assert info.value.error == "States.Timeout"
        answers = [pool.result(call) for call in behind]  # type: ignore[arg-type]
        assert [a["x"] for a in answers] == [2, 4]
        assert answers[0]["pid"] == answers[1]["pid"] != stuck.worker.process.pid


def test_queued_invocations_count_against_the_function_concurrency(handlers: str) -> None:
    limited = spec(handlers, "slow", concurrency=1)
    with FunctionPool(2, queue_depth=4) as pool:
        first = pool.start(limited, {"seconds": 0.1}, block=False)
        assert first is not None
        assert pool.start(limited, {"seconds": 0.1}, block=False) is None  # not even queued
        pool.result(first)
        second = pool.start(limited, {"seconds": 0.1}, block=False)
        assert second is not None and pool.result(second) > 0


def test_a_blocking_caller_is_not_starved_by_queued_invocations(handlers: str) -> None:
    """While a blocking caller waits for a process, nothing more is queued: the busy process
    drains and the caller gets it."""
    slow = FunctionSpec("slow", f"{handlers}:slow")
    with FunctionPool(1, queue_depth=4) as pool:
        first = pool.start(slow, {"seconds": 0.3}, block=False)
        assert first is not None
        answer: list[float] = []
        waiter = threading.Thread(target=lambda: answer.append(pool.invoke(slow, {"seconds": 0})))
        waiter.start()
        time.sleep(0.1)  # the waiter is blocked on the pool's only process
        assert pool.start(slow, {"seconds": 0}, block=False) is None  # not queued in front of it
        pool.result(first)
        waiter.join(10)
        assert answer


def test_an_abandoned_call_does_not_hold_up_the_one_queued_behind_it(handlers: str) -> None:
    slow = FunctionSpec("slow", f"{handlers}:slow")
    double = FunctionSpec("double", f"{handlers}:double")
    with FunctionPool(1, queue_depth=2) as pool:
        dropped = pool.start(slow, {"seconds": 0.2}, block=False)
        kept = pool.start(double, {"x": 4}, block=False)
        assert dropped is not None and kept is not None
        pool.abandon(dropped)  # the process keeps running: `kept` is queued in it
        deadline = time.monotonic() + 10
        while not pool.ready(kept) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.ready(kept)  # a loop that collects only ready calls gets to it
        assert pool.result(kept)["x"] == 8


def test_request_ids_are_random_uuid4_text() -> None:
    import uuid

    from podium.functions.pool import new_request_id

    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # Every variant digit (8, 9, a, b) shows up: the two random bits under it are kept.
    assert {text[19] for text in ids} == set("89ab")


def test_results_and_errors_keep_any_text(handlers: str) -> None:
    """A result is the handler's JSON value, non-ASCII text included; an error keeps its
    message and the handler's own stack."""
    with FunctionPool(1) as pool:
        assert pool.invoke(spec(handlers, "double"), {"x": "é😀"})["x"] == "é😀é😀"
        with pytest.raises(FunctionError) as info:
            pool.invoke(spec(handlers, "boom"), {})
        assert info.value.error == "KeyError" and info.value.cause == "'missing column'"
        assert "in boom" in info.value.stack_trace[0] and len(info.value.stack_trace) == 1
        assert pool.invoke(spec(handlers, "double"), {"x": 0.5})["x"] == 1.0


def test_ready_can_take_the_callers_own_poll(handlers: str) -> None:
    """`ready(invocation, readable)` trusts the caller's poll of the reply pipe (no poll of
    its own) but still sees a passed deadline."""
    import select

    with FunctionPool(1, queue_depth=4) as pool:
        first = pool.start(spec(handlers, "slow"), {"seconds": 0.2}, block=False)
        assert first is not None
        assert not pool.ready(first, readable=False)
        poller = select.poll()
        poller.register(first.connection.fileno(), select.POLLIN)
        assert poller.poll(20_000)
        assert pool.ready(first, readable=True)
        assert isinstance(pool.result(first), float)
        hung = pool.start(spec(handlers, "hang", timeout_seconds=0.3), {}, block=False)
        assert hung is not None
        time.sleep(0.4)
        assert pool.ready(hung, readable=False)  # past its deadline
        with pytest.raises(FunctionError) as info:
            pool.result(hung)
        assert info.value.error == "States.Timeout"


def test_frames_are_read_whole_however_the_pipe_splits_them() -> None:
    import os

    from podium.functions.protocol import frame, read_frames

    read_end, write_end = os.pipe()
    messages = [b"a", b"", b"b" * 100_000, b"cd"]
    data = b"".join(frame(message) for message in messages)
    # Pieces that cut lengths and bodies in two, and one write holding several frames.
    pieces = [data[:2], data[2:7], data[7:50], data[50:]]
    received = []
    frames = read_frames(read_end)
    writer = threading.Thread(target=lambda: [os.write(write_end, piece) and time.sleep(0.01)
                                              for piece in pieces] and os.close(write_end))
    writer.start()
    received = list(frames)
    writer.join()
    os.close(read_end)
    assert received == messages
