"""Parallel and Map states: branches and iterations run as child frames of the same run.

A Map or Parallel state starts its children up to MaxConcurrency (an inline Map at most
INLINE_MAP_CONCURRENCY at once), collects their results in order, applies
ToleratedFailureCount/Percentage, and, for a distributed Map, reads items with its ItemReader
and writes results with its ResultWriter as RunTask actions of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.asl.definition import JSONATA, State
from podium.asl.errors import (
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RUNTIME,
    AslRuntimeError,
    StateFailure,
)
from podium.asl.events import RunTask, failure_details
from podium.asl.jsonata import unexpected_type_error
from podium.asl.jsonpath import to_json_text
from podium.asl.map_io import group_batches, parse_items
from podium.asl.runstate import BLOCK, CHILDREN, DONE, TASK, TASK_DONE, Frame

# The most iterations of an inline Map that run at once, whatever MaxConcurrency says (0 means
# "as many as possible"): AWS documents that "in Inline mode, the Map state supports up to 40
# concurrent iterations". Each running iteration is a frame of the run state, which the
# durable engine writes at every transition, so an unbounded Map of 1,000 items made every
# transition write 1,000 frames.
INLINE_MAP_CONCURRENCY = 40

if TYPE_CHECKING:
    from podium.asl.stepper import Stepper


def run_parallel(s: Stepper, frame: Frame, st: State) -> int:
    if frame.phase == CHILDREN:
        return children(s, frame, st)
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    if st.query_language == JSONATA:
        states = {"input": frame.input, "context": ctx}
        branch_input = st.arguments.evaluate(states, variables) if st.arguments is not None else frame.input
    else:
        data = s.effective_input(frame, st, ctx, variables)
        branch_input = st.parameters.render(data, ctx, variables) if st.parameters is not None else data
    s.fit(st, branch_input, frame.size if branch_input is frame.input else -1, "input")
    s.emit(frame, "ParallelStateStarted")
    n = len(st.branches)
    frame.work = {
        "kind": "parallel", "distributed": False, "items": [branch_input] * n, "next": 0, "running": 0,
        "results": [None] * n, "children": {}, "failed": 0, "failure": None, "concurrency": 0,
        "tolerated_count": None, "tolerated_pct": None,
    }
    keep_resumed(s, frame, n)
    frame.phase = CHILDREN
    return children(s, frame, st)


def run_map(s: Stepper, frame: Frame, st: State) -> int:
    if frame.phase == CHILDREN:
        return children(s, frame, st)
    if frame.phase == TASK:
        return BLOCK
    if frame.phase == TASK_DONE and frame.work is not None and frame.work.get("kind") == "writer":
        details, results = frame.result, frame.work["results"]
        frame.result, frame.work = None, None
        return finish_parent(s, frame, st, {"MapRunArn": map_run_arn(s, frame), "ResultWriterDetails": details}, results)
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    jsonata = st.query_language == JSONATA
    states: dict[str, Any] | None = None
    if jsonata:
        states = {"input": frame.input, "context": ctx}
        data = frame.input
    else:
        data = s.effective_input(frame, st, ctx, variables)
    if st.item_reader is not None:
        if frame.phase != TASK_DONE:
            reader = st.item_reader
            params = task_payload(s, reader.parameters, states, data, ctx, variables)
            return internal_task(s, frame, st, "reader", reader.resource, params)
        items = parse_items(st.item_reader, frame.result)
        frame.result, frame.work = None, None
    elif jsonata:
        assert states is not None
        if st.has_items:
            items = st.items.evaluate(states, variables) if hasattr(st.items, "evaluate") else st.items
            if not isinstance(items, list):
                raise unexpected_type_error(st.items_text, "Items", "array", items)
        else:
            items = frame.input
            if not isinstance(items, list):
                raise AslRuntimeError(STATES_QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {to_json_text(items)}")
    else:
        items = st.items_path.select(data, ctx, variables) if st.items_path is not None else data
        if not isinstance(items, list):
            raise AslRuntimeError(STATES_RUNTIME, f"Map state input must be an array but was: {to_json_text(items)}")
    s.emit(frame, "MapStateStarted", {"length": len(items)})
    concurrency = s.number_field(frame, st, st.max_concurrency, st.max_concurrency_path, "MaxConcurrency", states, data, ctx, True)
    count = s.number_field(frame, st, st.tolerated_count, st.tolerated_count_path, "ToleratedFailureCount", states, data, ctx, True)
    pct = s.number_field(frame, st, st.tolerated_percentage, st.tolerated_percentage_path, "ToleratedFailurePercentage", states, data, ctx, False)
    if count is not None and count < 0:
        raise AslRuntimeError(STATES_RUNTIME, "ToleratedFailureCount cannot be negative.")
    if pct is not None and not 0 <= pct <= 100:
        raise AslRuntimeError(STATES_RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
    if concurrency is not None and concurrency < 0:
        raise AslRuntimeError(STATES_RUNTIME, "MaxConcurrency cannot be negative.")
    inputs = map_inputs(s, frame, st, items, data, ctx, variables, states)
    if st.distributed:
        s.emit(frame, "MapRunStarted")
    else:
        concurrency = min(concurrency or INLINE_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY)
    frame.work = {
        "kind": "map", "distributed": st.distributed, "items": inputs, "next": 0, "running": 0,
        "results": [None] * len(inputs), "children": {}, "failed": 0, "failure": None,
        "concurrency": concurrency or 0, "tolerated_count": count, "tolerated_pct": pct,
    }
    keep_resumed(s, frame, len(inputs))
    frame.phase = CHILDREN
    return children(s, frame, st)


def keep_resumed(s: Stepper, frame: Frame, n: int) -> None:
    kept = s.resumed_results(frame, n)
    if kept:
        work = frame.work
        assert work is not None
        for i, value in kept.items():
            work["results"][i] = value
        work["done"] = sorted(kept)
        work["order"] = [i for i in range(n) if i not in kept]


def task_payload(s: Stepper, template: Any, states: dict[str, Any] | None, data: Any, ctx: Any,
                 variables: Mapping[str, Any]) -> Any:
    if template is None:
        return {}
    if states is not None:
        return template.evaluate(states, variables)
    return template.render(data, ctx, variables)


def internal_task(s: Stepper, frame: Frame, st: State, kind: str, resource: str, task_input: Any,
                  results: Any = None) -> int:
    """A task the Map state itself needs (reading items, writing results)."""
    rs = s.rs
    task_id = f"t{rs.next_task}"
    rs.next_task += 1
    rs.tasks[task_id] = frame.fid
    frame.task = task_id
    frame.phase = TASK
    frame.work = {"kind": kind, "results": results}
    s.actions.append(RunTask(task_id, resource, task_input, st.name))
    return BLOCK


def map_run_arn(s: Stepper, frame: Frame) -> str:
    execution = str(s.rs.context["Execution"]["Id"]).replace(":execution:", ":mapRun:")
    return f"{execution}/{frame.state}:{frame.entered_event}"


def map_inputs(s: Stepper, frame: Frame, st: State, items: list[Any], data: Any, ctx: Any,
               variables: Mapping[str, Any], states: dict[str, Any] | None) -> list[Any]:
    """Each iteration's input: ItemSelector applied per item, then ItemBatcher batches."""
    if st.item_selector is not None:
        items = select_items(s, frame, st, items, data, ctx, variables, states)
    if st.batcher is not None:
        items = batches(s, frame, st, items, data, ctx, variables, states)
    if st.item_selector is not None or st.batcher is not None or st.item_reader is not None:
        # Each iteration's input (built by ItemSelector/ItemBatcher or read by the ItemReader)
        # is under the limit too.
        for item in items:
            s.fit(st, item, -1, "input")
    return list(items)


def select_items(s: Stepper, frame: Frame, st: State, items: list[Any], data: Any, ctx: Any,
                 variables: Mapping[str, Any], states: dict[str, Any] | None) -> list[Any]:
    base_ctx = ctx if ctx else dict(s.rs.context)
    if "State" not in base_ctx:
        base_ctx = dict(base_ctx)
        base_ctx["State"] = {"EnteredTime": frame.entered_time, "Name": frame.state, "RetryCount": frame.retry_count}
    out = []
    for i, item in enumerate(items):
        item_ctx = dict(base_ctx)
        item_ctx["Map"] = {"Item": {"Index": i, "Value": item}}
        if states is not None:
            item_states = dict(states)
            item_states["context"] = item_ctx
            out.append(st.item_selector.evaluate(item_states, variables))
        else:
            out.append(st.item_selector.render(data, item_ctx, variables))
    return out


def batches(s: Stepper, frame: Frame, st: State, items: list[Any], data: Any, ctx: Any,
            variables: Mapping[str, Any], states: dict[str, Any] | None) -> list[Any]:
    """Group items as ItemBatcher asks: {"BatchInput": ..., "Items": [...]} per batch."""
    max_items = s.number_field(frame, st, st.batch_max_items, st.batch_max_items_path,
                                  "MaxItemsPerBatch", states, data, ctx, True)
    max_bytes = s.number_field(frame, st, st.batch_max_bytes, st.batch_max_bytes_path,
                                  "MaxInputBytesPerBatch", states, data, ctx, True)
    if not isinstance(max_items, int) or max_items <= 0:
        max_items = len(items) or 1
    batch_input: Any = None
    if st.batch_input is not None:
        batch_input = (st.batch_input.evaluate(states, variables) if states is not None
                       else st.batch_input.render(data, ctx, variables))
    return group_batches(items, max_items, max_bytes if isinstance(max_bytes, int) else None, batch_input)


def children(s: Stepper, frame: Frame, st: State) -> int:
    """Start branches up to the concurrency limit; finish the state when all are done."""
    work = frame.work
    assert work is not None
    # After a redrive, `order` lists the indices still to run (the others kept results).
    order: list[int] | None = work.get("order")
    n = len(work["items"]) if order is None else len(order)
    limit = work["concurrency"]
    is_map = work["kind"] == "map"
    while work["failure"] is None and work["next"] < n and (limit == 0 or work["running"] < limit):
        idx = work["next"] if order is None else order[work["next"]]
        work["next"] += 1
        work["running"] += 1
        program = st.processor if is_map else st.branches[idx]
        child = s.new_frame(frame, idx, program, work["items"][idx])
        if is_map and work["distributed"]:
            child.isolated = True
            child.log, child.events, child.last_event = child.fid, 1, 1
        work["children"][idx] = child.fid
        if is_map and not work["distributed"]:
            s.emit(frame, "MapIterationStarted", {"index": idx, "name": st.name})
            child.last_event = frame.last_event
        s.run(child)
        if s.rs.status != "RUNNING":
            return DONE
    if work["failure"] is not None:
        error, cause = work["failure"]
        s.cancel_children(frame)
        if is_map and work["distributed"]:
            s.emit(frame, "MapRunFailed", failure_details(error, cause))
        raise StateFailure(error, cause)
    if work["running"] > 0 or work["next"] < n:
        return BLOCK
    results = work["results"]
    frame.work = None
    if is_map and st.result_writer is not None:
        ctx = s.context(frame, st)
        variables = s.scope(frame)
        jsonata = st.query_language == JSONATA
        states = {"input": frame.input, "context": ctx} if jsonata else None
        data = frame.input if jsonata else s.effective_input(frame, st, ctx, variables)
        params = task_payload(s, st.result_writer.parameters, states, data, ctx, variables)
        payload = {**(params if isinstance(params, dict) else {}), "MapRunArn": map_run_arn(s, frame), "Results": results}
        return internal_task(s, frame, st, "writer", st.result_writer.resource, payload, results)
    return finish_parent(s, frame, st, results, results)


def finish_parent(s: Stepper, frame: Frame, st: State, output: Any, results: Any) -> int:
    """Map/Parallel succeeded: record it, then ResultSelector/Output and the rest."""
    if st.type == "Map" and st.distributed:
        s.emit(frame, "MapRunSucceeded")
    s.emit(frame, st.type + "StateSucceeded")
    ctx = s.context(frame, st)
    variables = s.scope(frame)
    if st.query_language == JSONATA:
        states = {"input": frame.input, "context": ctx, "result": output}
        return s.finish_jsonata(frame, st, states, output)
    if st.result_selector is not None:
        output = st.result_selector.render(output, ctx, variables)
    return s.finish_jsonpath(frame, st, output, ctx, variables)
