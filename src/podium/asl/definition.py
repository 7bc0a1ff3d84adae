"""Compile an ASL document once into an immutable `StateMachine` the step function runs.

`compile_definition(doc)` accepts a dict or JSON/YAML text. Every path, template, intrinsic,
JSONata expression and choice rule is compiled here so the step loop never parses. Documents
too broken to run (no StartAt, a Next to nowhere, a state without Type, a bad path) raise
`podium.errors.ValidationError` naming the JSON location; full static validation with every
problem reported lives in `podium.asl.validate`.

Nested branches (Parallel branches, Map processors) are `Program`s; each gets an index in
`StateMachine.programs` (0 is the top level) so a run state can name it in plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from podium.asl.choice import ChoiceRule, compile_choice_rule
from podium.asl.events import resource_details, resource_region, task_event_prefix
from podium.asl.intrinsics import compile_intrinsic
from podium.asl.jsonata import JsonataTemplate, compile_jsonata_template, is_jsonata
from podium.asl.jsonpath import JsonPath, ReferencePath, compile_path, compile_reference_path
from podium.asl.limits import MAX_PAYLOAD_BYTES, exact_size
from podium.asl.map_io import INPUT_TYPES, ItemReaderSpec, ResultWriterSpec
from podium.asl.payload import Template, compile_template
from podium.errors import ValidationError

JSONPATH = "JSONPath"
JSONATA = "JSONata"

STATE_TYPES = frozenset({"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})

# AWS limits a state's input/output to 256 KiB of UTF-8.


@dataclass(frozen=True, slots=True)
class PathExpr:
    """A JSONPath field that may also hold an intrinsic function (ErrorPath, CausePath, …)."""

    text: str
    path: JsonPath | None
    intrinsic: Any

    def evaluate(self, field_name: str, data: Any, context: Any, variables: Mapping[str, Any]) -> Any:
        if self.path is not None:
            return self.path.select_for_field(field_name, data, context, variables)
        return self.intrinsic.evaluate(data, context, variables)


@dataclass(frozen=True, slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_full: bool = False


@dataclass(frozen=True, slots=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: ReferencePath | None
    discard_result: bool
    output: JsonataTemplate | None
    has_output: bool
    assign: Any


@dataclass(frozen=True, slots=True)
class State:
    """One compiled state; fields a type does not use stay at their defaults."""

    name: str
    type: str
    query_language: str
    next: str | None = None
    end: bool = False
    uses_context: bool = False
    # JSONPath processing
    input_path: JsonPath | None = None
    discard_input: bool = False
    parameters: Template | None = None
    result_selector: Template | None = None
    result_path: ReferencePath | None = None
    discard_result: bool = False
    output_path: JsonPath | None = None
    discard_output: bool = False
    # JSONata processing
    arguments: JsonataTemplate | None = None
    output: JsonataTemplate | None = None
    has_output: bool = False
    # A payload Template in JSONPath states, a JsonataTemplate in JSONata states.
    assign: Any = None
    # Pass
    result: Any = None
    has_result: bool = False
    result_too_large: bool = False
    # Task
    resource: str = ""
    timeout: Any = None
    timeout_path: JsonPath | None = None
    heartbeat: Any = None
    heartbeat_path: JsonPath | None = None
    # TimeoutSeconds or HeartbeatSeconds is a path or a JSONata expression (else a constant).
    dynamic_timeouts: bool = False
    # A JSONPath Task whose input is its state's input and whose output is its result: no
    # InputPath, Parameters, ResultSelector, ResultPath, OutputPath, Assign, `$$`, task token
    # or TimeoutSecondsPath/HeartbeatSecondsPath (the step function skips the data flow).
    plain: bool = False
    # The history spelling of the Task's resource (podium.asl.events), computed once: the
    # event name prefix ('Task' or 'LambdaFunction'), resourceType/resource, and the fields
    # of TaskScheduled before its payload, which goes under `scheduled_key`. Shared: copy them.
    event_prefix: str = ""
    resource_fields: Mapping[str, str] = field(default_factory=dict)
    scheduled_fields: Mapping[str, str] = field(default_factory=dict)
    scheduled_key: str = ""
    # Choice
    choices: tuple[ChoiceRule, ...] = ()
    choice_assign: tuple[Any, ...] = ()
    choice_output: tuple[JsonataTemplate | None, ...] = ()
    default: str | None = None
    # Wait
    seconds: Any = None
    seconds_path: JsonPath | None = None
    timestamp: Any = None
    timestamp_path: JsonPath | None = None
    # Fail
    error: Any = None
    cause: Any = None
    error_path: PathExpr | None = None
    cause_path: PathExpr | None = None
    # Parallel / Map
    branches: tuple[int, ...] = ()
    processor: int = -1
    distributed: bool = False
    items_path: JsonPath | None = None
    items: Any = None
    has_items: bool = False
    items_text: str = ""
    item_selector: Any = None
    max_concurrency: Any = 0
    max_concurrency_path: JsonPath | None = None
    tolerated_count: Any = None
    tolerated_count_path: JsonPath | None = None
    tolerated_percentage: Any = None
    tolerated_percentage_path: JsonPath | None = None
    batcher: Mapping[str, Any] | None = None
    batch_max_items: Any = None
    batch_max_items_path: JsonPath | None = None
    batch_max_bytes: Any = None
    batch_max_bytes_path: JsonPath | None = None
    batch_input: Any = None
    item_reader: ItemReaderSpec | None = None
    result_writer: ResultWriterSpec | None = None
    label: str | None = None
    # errors
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(frozen=True, slots=True)
class Program:
    """A StartAt and its States: the top level, a Parallel branch or a Map processor."""

    index: int
    start_at: str
    states: Mapping[str, State]
    query_language: str


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A compiled definition. `programs[0]` is the top level."""

    programs: tuple[Program, ...]
    definition: Mapping[str, Any]
    query_language: str = JSONPATH
    timeout_seconds: int | None = None
    comment: str | None = None
    version: str | None = None
    max_payload_bytes: int = MAX_PAYLOAD_BYTES

    @property
    def root(self) -> Program:
        return self.programs[0]


def compile_definition(doc: Mapping[str, Any] | str) -> StateMachine:
    """Compile a definition (dict, JSON text or YAML text) into a `StateMachine`."""
    if isinstance(doc, str):
        doc = _parse_text(doc)
    if not isinstance(doc, Mapping):
        raise ValidationError("A state machine definition must be a JSON object", code="SCHEMA_VALIDATION_FAILED")
    # Full static validation first, so a bad definition is reported with every problem at once.
    from podium.asl.validate import check

    check(doc)
    ql = doc.get("QueryLanguage", JSONPATH)
    _check(isinstance(ql, str) and ql in (JSONPATH, JSONATA), "/QueryLanguage", f"unknown QueryLanguage {ql!r}")
    compiler = _Compiler()
    compiler.program(doc, "", ql)
    timeout = doc.get("TimeoutSeconds")
    _check(timeout is None or (_is_int(timeout) and timeout >= 0),
           "/TimeoutSeconds", "TimeoutSeconds must be a non-negative integer")
    timeout = None if timeout is None else int(timeout)
    return StateMachine(
        programs=tuple(compiler.programs),  # type: ignore[arg-type]
        definition=doc,
        query_language=ql,
        timeout_seconds=timeout,
        comment=doc.get("Comment"),
        version=doc.get("Version"),
    )


def _parse_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"The definition is neither JSON nor YAML: {exc}", code="SCHEMA_VALIDATION_FAILED") from exc


def _check(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise ValidationError(f"{where or '/'}: {message}", code="SCHEMA_VALIDATION_FAILED", details={"location": where or "/"})


def _guard(where: str, build: Any, *args: Any) -> Any:
    """Run a compile function from the expression layer, naming the location on failure."""
    try:
        return build(*args)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.message}", code=exc.code, details={"location": where}) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ValidationError(f"{where}: {exc}", code="SCHEMA_VALIDATION_FAILED", details={"location": where}) from exc


def _whole(path: Any) -> Any:
    """None for a path that selects (or, as a ResultPath, replaces) the whole document, `$`:
    the same as leaving the field out, which the step function does without evaluating."""
    inner = path.path if isinstance(path, ReferencePath) else path
    return None if inner.root == "$" and not inner.segments and inner.function is None else path


def _is_int(v: Any) -> bool:
    # As JSON Schema's "integer": 5.0 counts (callers store int(v)); a bool never does.
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Compiler:
    def __init__(self) -> None:
        self.programs: list[Program | None] = []

    def program(self, doc: Mapping[str, Any], where: str, ql: str) -> int:
        index = len(self.programs)
        self.programs.append(None)
        _check(isinstance(doc, Mapping), where, "must be an object")
        start: Any = doc.get("StartAt")
        states: Any = doc.get("States")
        _check(isinstance(start, str), f"{where}/StartAt", "StartAt is required")
        _check(isinstance(states, Mapping) and len(states) > 0, f"{where}/States", "States must be a non-empty object")
        _check(start in states, f"{where}/StartAt", f"StartAt names no state: {start!r}")
        compiled = {name: self.state(name, raw, f"{where}/States/{name}", ql) for name, raw in states.items()}
        for st in compiled.values():
            for target in (st.next, st.default, *(c.next for c in st.catch)):
                _check(target is None or (isinstance(target, str) and target in compiled), f"{where}/States/{st.name}", f"transition to missing state {target!r}")
            for rule in st.choices:
                nxt = getattr(rule, "next", None)
                _check(isinstance(nxt, str) and nxt in compiled, f"{where}/States/{st.name}/Choices", f"transition to missing state {nxt!r}")
        self.programs[index] = Program(index, start, compiled, ql)
        return index

    # ------------------------------------------------------------------ states

    def state(self, name: str, raw: Any, where: str, parent_ql: str) -> State:
        _check(isinstance(raw, Mapping), where, "a state must be an object")
        typ = raw.get("Type")
        _check(isinstance(typ, str) and typ in STATE_TYPES, f"{where}/Type", f"unknown or missing state Type {typ!r}")
        ql = raw.get("QueryLanguage", parent_ql)
        _check(isinstance(ql, str) and ql in (JSONPATH, JSONATA), f"{where}/QueryLanguage", f"unknown QueryLanguage {ql!r}")
        _check(not (parent_ql == JSONATA and ql == JSONPATH), f"{where}/QueryLanguage",
               "a JSONPath state is not allowed in a JSONata state machine")
        kw: dict[str, Any] = {"name": name, "type": typ, "query_language": ql}
        text = json.dumps(raw)
        kw["uses_context"] = "$$" in text or "$states.context" in text or ("context" in text and ql == JSONATA)
        if typ not in ("Choice", "Succeed", "Fail"):
            nxt, end = raw.get("Next"), bool(raw.get("End", False))
            _check(isinstance(nxt, str) != end, where, "exactly one of Next or End is required")
            kw["next"], kw["end"] = nxt, end
        jp = ql == JSONPATH
        if jp:
            self.jsonpath_io(raw, where, typ, kw)
        else:
            for f in ("InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath"):
                _check(f not in raw, f"{where}/{f}", f"{f} is not supported in a JSONata state; use Arguments/Output")
            if "Output" in raw and typ != "Fail":
                kw["output"] = _guard(f"{where}/Output", compile_jsonata_template, raw["Output"], "Output")
                kw["has_output"] = True
            if "Arguments" in raw:
                _check(typ in ("Task", "Parallel"), f"{where}/Arguments", "Arguments is only for Task and Parallel states")
                kw["arguments"] = _guard(f"{where}/Arguments", compile_jsonata_template, raw["Arguments"], "Arguments")
        if "Assign" in raw:
            _check(typ not in ("Succeed", "Fail"), f"{where}/Assign", "Assign is not allowed here")
            kw["assign"] = self.assign(raw["Assign"], f"{where}/Assign", ql)
        getattr(self, "type_" + typ.lower())(raw, where, ql, kw)
        if typ == "Task" and jp:
            kw["plain"] = not (
                kw["uses_context"] or kw.get("dynamic_timeouts") or kw["resource"].endswith(".waitForTaskToken")
                or any(kw.get(f) is not None for f in ("input_path", "parameters", "result_selector", "result_path",
                                                       "output_path", "assign"))
                or any(kw.get(f) for f in ("discard_input", "discard_result", "discard_output")))
        if typ in ("Task", "Parallel", "Map"):
            kw["retry"] = tuple(self.retrier(r, f"{where}/Retry/{i}") for i, r in enumerate(_list(raw, "Retry", where)))
            kw["catch"] = tuple(self.catcher(c, f"{where}/Catch/{i}", ql) for i, c in enumerate(_list(raw, "Catch", where)))
        return State(**kw)

    def jsonpath_io(self, raw: Mapping[str, Any], where: str, typ: str, kw: dict[str, Any]) -> None:
        for f in ("Arguments", "Output"):
            _check(f not in raw, f"{where}/{f}", f"{f} needs QueryLanguage JSONata")
        if typ != "Fail":
            if "InputPath" in raw:
                if raw["InputPath"] is None:
                    kw["discard_input"] = True
                else:
                    kw["input_path"] = _whole(_guard(f"{where}/InputPath", compile_path, raw["InputPath"]))
            if "OutputPath" in raw:
                if raw["OutputPath"] is None:
                    kw["discard_output"] = True
                else:
                    kw["output_path"] = _whole(_guard(f"{where}/OutputPath", compile_path, raw["OutputPath"]))
        if "Parameters" in raw:
            _check(typ in ("Pass", "Task", "Parallel", "Map"), f"{where}/Parameters", "Parameters is not allowed here")
            if typ != "Map":
                kw["parameters"] = _guard(f"{where}/Parameters", compile_template, raw["Parameters"])
        if "ResultSelector" in raw:
            _check(typ in ("Task", "Parallel", "Map"), f"{where}/ResultSelector", "ResultSelector is not allowed here")
            kw["result_selector"] = _guard(f"{where}/ResultSelector", compile_template, raw["ResultSelector"])
        if "ResultPath" in raw:
            _check(typ in ("Pass", "Task", "Parallel", "Map"), f"{where}/ResultPath", "ResultPath is not allowed here")
            if raw["ResultPath"] is None:
                kw["discard_result"] = True
            else:
                kw["result_path"] = _whole(_guard(f"{where}/ResultPath", compile_reference_path, raw["ResultPath"]))

    def assign(self, obj: Any, where: str, ql: str) -> Template | JsonataTemplate:
        _check(isinstance(obj, Mapping), where, "Assign must be an object")
        if ql == JSONATA:
            return _guard(where, compile_jsonata_template, obj, "Assign")  # type: ignore[no-any-return]
        return _guard(where, compile_template, obj)  # type: ignore[no-any-return]

    def retrier(self, raw: Any, where: str) -> Retrier:
        _check(isinstance(raw, Mapping), where, "a retrier must be an object")
        errors = raw.get("ErrorEquals")
        _check(isinstance(errors, list) and len(errors) > 0 and all(isinstance(e, str) for e in errors),
               f"{where}/ErrorEquals", "ErrorEquals must be a non-empty list of strings")
        interval = raw.get("IntervalSeconds", 1)
        attempts = raw.get("MaxAttempts", 3)
        backoff = raw.get("BackoffRate", 2.0)
        max_delay = raw.get("MaxDelaySeconds")
        jitter = raw.get("JitterStrategy", "NONE")
        _check(_is_num(interval) and interval >= 0, f"{where}/IntervalSeconds", "must be a non-negative number")
        _check(_is_int(attempts) and attempts >= 0, f"{where}/MaxAttempts", "must be a non-negative integer")
        _check(_is_num(backoff) and backoff >= 1.0, f"{where}/BackoffRate", "must be a number >= 1.0")
        _check(max_delay is None or (_is_num(max_delay) and max_delay > 0), f"{where}/MaxDelaySeconds", "must be a positive number")
        _check(jitter in ("FULL", "NONE"), f"{where}/JitterStrategy", "must be FULL or NONE")
        return Retrier(tuple(errors), float(interval), int(attempts), float(backoff),
                       None if max_delay is None else float(max_delay), jitter == "FULL")

    def catcher(self, raw: Any, where: str, ql: str) -> Catcher:
        _check(isinstance(raw, Mapping), where, "a catcher must be an object")
        errors = raw.get("ErrorEquals")
        _check(isinstance(errors, list) and len(errors) > 0 and all(isinstance(e, str) for e in errors),
               f"{where}/ErrorEquals", "ErrorEquals must be a non-empty list of strings")
        nxt = raw.get("Next")
        _check(isinstance(nxt, str), f"{where}/Next", "Next is required")
        result_path, discard = None, False
        if "ResultPath" in raw:
            _check(ql == JSONPATH, f"{where}/ResultPath", "ResultPath needs QueryLanguage JSONPath")
            if raw["ResultPath"] is None:
                discard = True
            else:
                result_path = _whole(_guard(f"{where}/ResultPath", compile_reference_path, raw["ResultPath"]))
        output = None
        if "Output" in raw:
            _check(ql == JSONATA, f"{where}/Output", "Output needs QueryLanguage JSONata")
            output = _guard(f"{where}/Output", compile_jsonata_template, raw["Output"], "Output")
        assign = self.assign(raw["Assign"], f"{where}/Assign", ql) if "Assign" in raw else None
        return Catcher(tuple(errors), nxt, result_path, discard, output, "Output" in raw, assign)

    # ------------------------------------------------------------------ per type

    def type_pass(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        if "Result" in raw:
            _check(ql == JSONPATH, f"{where}/Result", "Result needs QueryLanguage JSONPath")
            kw["result"], kw["has_result"] = raw["Result"], True
            kw["result_too_large"] = exact_size(raw["Result"]) > MAX_PAYLOAD_BYTES

    def type_task(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        res = raw.get("Resource")
        _check(isinstance(res, str) and res != "", f"{where}/Resource", "Resource is required")
        kw["resource"] = res
        for f, key in (("TimeoutSeconds", "timeout"), ("HeartbeatSeconds", "heartbeat")):
            if f in raw:
                v = raw[f]
                if ql == JSONATA and is_jsonata(v):
                    kw[key] = _guard(f"{where}/{f}", compile_jsonata_template, v, f)
                    kw["dynamic_timeouts"] = True
                else:
                    _check(_is_int(v) and v > 0, f"{where}/{f}", f"{f} must be a positive integer")
                    kw[key] = int(v)
            if f + "Path" in raw:
                _check(ql == JSONPATH, f"{where}/{f}Path", "needs QueryLanguage JSONPath")
                kw[key + "_path"] = _guard(f"{where}/{f}Path", compile_path, raw[f + "Path"])
                kw["dynamic_timeouts"] = True
        resource = str(res)
        prefix = task_event_prefix(resource)
        kw["event_prefix"] = prefix
        kw["resource_fields"] = resource_details(resource)
        if prefix == "LambdaFunction":
            kw["scheduled_fields"], kw["scheduled_key"] = {"resource": resource}, "input"
        else:
            kw["scheduled_fields"] = {**resource_details(resource), "region": resource_region(resource)}
            kw["scheduled_key"] = "parameters"

    def type_choice(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        choices: Any = raw.get("Choices")
        _check(isinstance(choices, list) and len(choices) > 0, f"{where}/Choices", "Choices must be a non-empty list")
        kw["choices"] = tuple(
            _guard(f"{where}/Choices/{i}", compile_choice_rule, rule, ql) for i, rule in enumerate(choices)
        )
        kw["choice_assign"] = tuple(
            self.assign(rule["Assign"], f"{where}/Choices/{i}/Assign", ql) if "Assign" in rule else None
            for i, rule in enumerate(choices)
        )
        kw["choice_output"] = tuple(
            _guard(f"{where}/Choices/{i}/Output", compile_jsonata_template, rule["Output"], "Output")
            if ql == JSONATA and "Output" in rule else None
            for i, rule in enumerate(choices)
        )
        kw["default"] = raw.get("Default")

    def type_wait(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        given = [f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in raw]
        _check(len(given) == 1, where, "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath")
        f = given[0]
        v = raw[f]
        if f in ("SecondsPath", "TimestampPath"):
            _check(ql == JSONPATH, f"{where}/{f}", "needs QueryLanguage JSONPath")
            kw["seconds_path" if f == "SecondsPath" else "timestamp_path"] = _guard(f"{where}/{f}", compile_path, v)
        elif ql == JSONATA and is_jsonata(v):
            kw["seconds" if f == "Seconds" else "timestamp"] = _guard(f"{where}/{f}", compile_jsonata_template, v, f)
        elif f == "Seconds":
            _check(_is_int(v) and v >= 0, f"{where}/Seconds", "Seconds must be a non-negative integer")
            kw["seconds"] = int(v)
        else:
            _check(isinstance(v, str), f"{where}/Timestamp", "Timestamp must be a string")
            kw["timestamp"] = v

    def type_succeed(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        kw["end"] = True

    def type_fail(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        kw["end"] = True
        for f, key in (("Error", "error"), ("Cause", "cause")):
            if f in raw:
                v = raw[f]
                if ql == JSONATA and is_jsonata(v):
                    kw[key] = _guard(f"{where}/{f}", compile_jsonata_template, v, f)
                else:
                    _check(isinstance(v, str), f"{where}/{f}", f"{f} must be a string")
                    kw[key] = v
            if f + "Path" in raw:
                _check(ql == JSONPATH, f"{where}/{f}Path", "needs QueryLanguage JSONPath")
                _check(f not in raw, f"{where}/{f}Path", f"{f} and {f}Path are exclusive")
                text = raw[f + "Path"]
                _check(isinstance(text, str), f"{where}/{f}Path", "must be a string")
                if text.startswith("$"):
                    kw[key + "_path"] = PathExpr(text, _guard(f"{where}/{f}Path", compile_path, text), None)
                else:
                    kw[key + "_path"] = PathExpr(text, None, _guard(f"{where}/{f}Path", compile_intrinsic, text))

    def type_parallel(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        branches: Any = raw.get("Branches")
        _check(isinstance(branches, list) and len(branches) > 0, f"{where}/Branches", "Branches must be a non-empty list")
        kw["branches"] = tuple(
            self.program(b, f"{where}/Branches/{i}", b.get("QueryLanguage", ql) if isinstance(b, Mapping) else ql)
            for i, b in enumerate(branches)
        )

    def type_map(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any]) -> None:
        proc_key = "ItemProcessor" if "ItemProcessor" in raw else "Iterator"
        proc: Any = raw.get(proc_key)
        _check(isinstance(proc, Mapping), f"{where}/ItemProcessor", "ItemProcessor (or Iterator) is required")
        config: Any = proc.get("ProcessorConfig") or {}
        _check(isinstance(config, Mapping), f"{where}/{proc_key}/ProcessorConfig", "must be an object")
        mode = config.get("Mode", "INLINE")
        _check(mode in ("INLINE", "DISTRIBUTED"), f"{where}/{proc_key}/ProcessorConfig/Mode", "must be INLINE or DISTRIBUTED")
        kw["distributed"] = mode == "DISTRIBUTED"
        kw["processor"] = self.program(proc, f"{where}/{proc_key}", proc.get("QueryLanguage", ql))
        kw["label"] = raw.get("Label")
        selector_key = "ItemSelector" if "ItemSelector" in raw else ("Parameters" if "Parameters" in raw else None)
        if selector_key is not None:
            _check(not ("ItemSelector" in raw and "Parameters" in raw), f"{where}/Parameters", "use ItemSelector or Parameters, not both")
            sel = raw[selector_key]
            kw["item_selector"] = (
                _guard(f"{where}/{selector_key}", compile_jsonata_template, sel, selector_key)
                if ql == JSONATA else _guard(f"{where}/{selector_key}", compile_template, sel)
            )
        if "ItemsPath" in raw:
            _check(ql == JSONPATH, f"{where}/ItemsPath", "ItemsPath needs QueryLanguage JSONPath; use Items")
            kw["items_path"] = _guard(f"{where}/ItemsPath", compile_path, raw["ItemsPath"])
        if "Items" in raw:
            _check(ql == JSONATA, f"{where}/Items", "Items needs QueryLanguage JSONata; use ItemsPath")
            v = raw["Items"]
            kw["has_items"] = True
            _check(isinstance(v, list) or is_jsonata(v), f"{where}/Items", "Items must be an array or a JSONata expression")
            kw["items"] = _guard(f"{where}/Items", compile_jsonata_template, v, "Items")
            kw["items_text"] = v[2:-2].strip() if isinstance(v, str) else json.dumps(v)
        self.numeric_field(raw, where, ql, kw, "MaxConcurrency", "max_concurrency")
        self.numeric_field(raw, where, ql, kw, "ToleratedFailureCount", "tolerated_count")
        self.numeric_field(raw, where, ql, kw, "ToleratedFailurePercentage", "tolerated_percentage")
        if "ItemBatcher" in raw:
            batcher = raw["ItemBatcher"]
            _check(isinstance(batcher, Mapping), f"{where}/ItemBatcher", "must be an object")
            kw["batcher"] = batcher
            self.numeric_field(batcher, f"{where}/ItemBatcher", ql, kw, "MaxItemsPerBatch", "batch_max_items")
            self.numeric_field(batcher, f"{where}/ItemBatcher", ql, kw, "MaxInputBytesPerBatch", "batch_max_bytes")
            if "BatchInput" in batcher:
                bi = batcher["BatchInput"]
                kw["batch_input"] = (
                    _guard(f"{where}/ItemBatcher/BatchInput", compile_jsonata_template, bi, "BatchInput")
                    if ql == JSONATA else _guard(f"{where}/ItemBatcher/BatchInput", compile_template, bi)
                )
        if "ItemReader" in raw:
            kw["item_reader"] = self.item_reader(raw["ItemReader"], f"{where}/ItemReader", ql)
        if "ResultWriter" in raw:
            rw: Any = raw["ResultWriter"]
            _check(isinstance(rw, Mapping), f"{where}/ResultWriter", "ResultWriter must be an object")
            # A ResultWriter with only WriterConfig (no Resource) writes nothing out.
            if isinstance(rw.get("Resource"), str):
                kw["result_writer"] = ResultWriterSpec(rw["Resource"], self.task_payload(rw, f"{where}/ResultWriter", ql))

    def task_payload(self, raw: Mapping[str, Any], where: str, ql: str) -> Any:
        """Parameters (JSONPath) or Arguments (JSONata) of an ItemReader/ResultWriter."""
        if ql == JSONATA and "Arguments" in raw:
            return _guard(f"{where}/Arguments", compile_jsonata_template, raw["Arguments"], "Arguments")
        if ql == JSONPATH and "Parameters" in raw:
            return _guard(f"{where}/Parameters", compile_template, raw["Parameters"])
        return None

    def item_reader(self, raw: Any, where: str, ql: str) -> ItemReaderSpec:
        _check(isinstance(raw, Mapping) and isinstance(raw.get("Resource"), str), where, "ItemReader needs a Resource")
        config: Any = raw.get("ReaderConfig") or {}
        _check(isinstance(config, Mapping), f"{where}/ReaderConfig", "must be an object")
        input_type = config.get("InputType")
        _check(input_type is None or input_type in INPUT_TYPES, f"{where}/ReaderConfig/InputType",
               f"InputType must be one of {sorted(INPUT_TYPES)} (MANIFEST is not supported)")
        location = config.get("CSVHeaderLocation", "FIRST_ROW")
        _check(location in ("FIRST_ROW", "GIVEN"), f"{where}/ReaderConfig/CSVHeaderLocation", "must be FIRST_ROW or GIVEN")
        headers = config.get("CSVHeaders", [])
        _check(isinstance(headers, list) and all(isinstance(h, str) for h in headers), f"{where}/ReaderConfig/CSVHeaders", "must be a list of strings")
        _check(location != "GIVEN" or len(headers) > 0, f"{where}/ReaderConfig/CSVHeaders", "CSVHeaderLocation GIVEN needs CSVHeaders")
        max_items = config.get("MaxItems")
        _check(max_items is None or (_is_int(max_items) and max_items >= 0), f"{where}/ReaderConfig/MaxItems", "must be a non-negative integer")
        return ItemReaderSpec(raw["Resource"], self.task_payload(raw, where, ql), input_type, location, tuple(headers),
                              None if max_items is None else int(max_items))

    def numeric_field(self, raw: Mapping[str, Any], where: str, ql: str, kw: dict[str, Any], f: str, key: str) -> None:
        if f in raw:
            v = raw[f]
            if ql == JSONATA and is_jsonata(v):
                kw[key] = _guard(f"{where}/{f}", compile_jsonata_template, v, f)
            else:
                _check(_is_num(v), f"{where}/{f}", f"{f} must be a number")
                kw[key] = int(v) if isinstance(v, float) and v.is_integer() else v
        if f + "Path" in raw:
            _check(ql == JSONPATH, f"{where}/{f}Path", "needs QueryLanguage JSONPath")
            kw[key + "_path"] = _guard(f"{where}/{f}Path", compile_path, raw[f + "Path"])


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value: list[Any] = raw.get(key, [])
    _check(isinstance(value, list), f"{where}/{key}", f"{key} must be a list")
    return value
