"""Property tests: random (valid and broken) definitions and inputs never crash Podium.

- validate() only ever returns problems (documented codes), whatever it is given;
- compile_definition() raises nothing but ValidationError;
- a definition validate() accepts compiles;
- running a valid definition never raises: failures are FAILED executions with an error name.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium.asl import compile_definition, execute
from podium.asl.problems import PROBLEM_CODES
from podium.asl.validate import validate
from podium.errors import ValidationError

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- JSON values and inputs ----------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-10, 10, allow_nan=False),
    st.sampled_from(["", "a", "tea", "2016-03-14T01:59:00Z", "States.ALL", "$.a", "{% 1 %}"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "n", "items", "x.$", "Type", "Next"]), inner, max_size=3),
    ),
    max_leaves=8,
)
# The same without '.$' keys: literal payloads in valid definitions.
literals = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "n", "items", "Type"]), inner, max_size=3),
    ),
    max_leaves=6,
)
inputs = st.fixed_dictionaries(
    {},
    optional={
        "a": json_values,
        "b": json_values,
        "n": st.one_of(st.integers(-2, 3), st.just("x")),
        "items": st.lists(json_values, max_size=4),
    },
)

# --- building blocks of valid definitions ----------------------------------------------------

PATHS = ["$", "$.a", "$.b", "$.items", "$.a.b", "$.items[0]", "$$.Execution.Id", "$$.State.Name"]
REFERENCE_PATHS = ["$", "$.r", "$.a", "$.r.deep"]
VALUES = [
    "$.a", "$.items[0]", "$$.Execution.Input", "States.Format('{} and {}', $.a, $.b)",
    "States.Array($.a, 1)", "States.JsonToString($)", "States.ArrayLength($.items)",
    "States.MathAdd($.n, 1)", "States.StringToJson($.a)", "States.ArrayGetItem($.items, 0)",
]
RESOURCES = ["ok", "echo", "boom", "flaky"]
ERRORS = ["States.ALL", "States.TaskFailed", "Boom", "States.Runtime", "Custom"]
JSONATA = [
    "{% $states.input %}", "{% $states.input.a %}", "{% $states.input.n + 1 %}",
    "{% $count($states.input.items) %}", "{% $v %}", "{% [1, 2, 3] %}", "{% $states.input.a.b %}",
]
CONDITIONS = ["{% $states.input.n > 1 %}", "{% true %}", "{% $exists($states.input.a) %}", "{% $states.input.a %}"]


def _resources() -> dict[str, Any]:
    calls = {"flaky": 0}

    def flaky(value: Any) -> Any:
        calls["flaky"] += 1
        if calls["flaky"] % 2:
            raise RuntimeError("try again")
        return value

    def boom(value: Any) -> Any:
        raise ValueError("boom")

    return {"ok": lambda value: {"done": True}, "echo": lambda value: value, "boom": boom, "flaky": flaky}


@st.composite
def jsonpath_fields(draw: st.DrawFn, *, result_path: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["InputPath"] = draw(st.sampled_from([*PATHS[:6], None]))
    if draw(st.booleans()):
        fields["Parameters"] = {"v.$": draw(st.sampled_from(VALUES)), "k": draw(literals)}
    if result_path and draw(st.booleans()):
        fields["ResultPath"] = draw(st.sampled_from([*REFERENCE_PATHS, None]))
    if draw(st.booleans()):
        fields["OutputPath"] = draw(st.sampled_from([*PATHS[:6], None]))
    if draw(st.booleans()):
        fields["Assign"] = {"v.$": draw(st.sampled_from(VALUES)), "w": draw(literals)}
    return fields


@st.composite
def jsonata_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["Output"] = draw(st.one_of(st.sampled_from(JSONATA), st.just({"x": draw(st.sampled_from(JSONATA))})))
    if draw(st.booleans()):
        fields["Assign"] = {"v": draw(st.sampled_from(JSONATA))}
    return fields


def _comparison(draw: st.DrawFn) -> dict[str, Any]:
    op, operand = draw(st.sampled_from([
        ("NumericGreaterThan", 1), ("NumericEquals", 0), ("StringEquals", "tea"), ("BooleanEquals", True),
        ("IsPresent", True), ("IsNull", False), ("IsString", True), ("StringMatches", "t*"),
        ("NumericLessThanPath", "$.n"), ("TimestampLessThan", "2020-01-01T00:00:00Z"),
    ]))
    return {"Variable": draw(st.sampled_from(PATHS[:6])), op: operand}


@st.composite
def programs(draw: st.DrawFn, depth: int = 0, jsonata: bool = False) -> dict[str, Any]:
    """A StartAt/States scope whose states form a forward chain: always valid, always ends."""
    count = draw(st.integers(1, 4 if depth == 0 else 2))
    names = [f"n{i}" for i in range(count)]
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        last = i == count - 1
        later = names[i + 1:]
        kinds = ["Pass", "Task", "Wait"] + (["Parallel", "Map"] if depth < 2 else [])
        kinds += ["Succeed", "Fail"] if last else ["Choice"]
        kind = draw(st.sampled_from(kinds))
        state: dict[str, Any] = {"Type": kind}
        flow = {"End": True} if last else {"Next": later[0]}
        if kind == "Pass":
            state |= flow
            if jsonata:
                state |= draw(jsonata_fields())
            else:
                state |= draw(jsonpath_fields())
                if draw(st.booleans()):
                    state["Result"] = draw(literals)
        elif kind == "Task":
            state |= flow
            state["Resource"] = draw(st.sampled_from(RESOURCES))
            state |= draw(jsonata_fields()) if jsonata else draw(jsonpath_fields())
            if draw(st.booleans()):
                state["Retry"] = [{"ErrorEquals": [draw(st.sampled_from(ERRORS[1:]))], "MaxAttempts": draw(st.integers(0, 2)),
                                   "IntervalSeconds": 1}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]
            if later and draw(st.booleans()):
                state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": draw(st.sampled_from(later))}]
                if not jsonata:
                    state["Catch"][0]["ResultPath"] = draw(st.sampled_from(["$.error", None, "$"]))
            if draw(st.booleans()):
                state["TimeoutSeconds"] = draw(st.integers(1, 100))
        elif kind == "Wait":
            state |= flow
            if jsonata:
                state["Seconds"] = draw(st.sampled_from([0, 5, "{% $states.input.n %}"]))
            else:
                key = draw(st.sampled_from(["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]))
                state[key] = {"Seconds": 3, "SecondsPath": "$.n", "Timestamp": "2030-01-01T00:00:00Z",
                              "TimestampPath": "$.a"}[key]
        elif kind == "Choice":
            if jsonata:
                rule: dict[str, Any] = {"Condition": draw(st.sampled_from(CONDITIONS))}
            elif draw(st.booleans()):
                rule = _comparison(draw)
            else:
                rule = {draw(st.sampled_from(["And", "Or"])): [_comparison(draw), {"Not": _comparison(draw)}]}
            rule["Next"] = draw(st.sampled_from(later))
            state["Choices"] = [rule]
            state["Default"] = later[0]
        elif kind == "Parallel":
            state |= flow
            state["Branches"] = [draw(programs(depth + 1, jsonata)) for _ in range(draw(st.integers(1, 2)))]
            if not jsonata and draw(st.booleans()):
                state["ResultPath"] = draw(st.sampled_from(REFERENCE_PATHS))
        elif kind == "Map":
            state |= flow
            state["ItemProcessor"] = draw(programs(depth + 1, jsonata))
            if jsonata:
                state["Items"] = draw(st.sampled_from(["{% $states.input.items %}", [1, 2], "{% $states.input %}"]))
            else:
                state["ItemsPath"] = draw(st.sampled_from(["$.items", "$.a", "$"]))
                if draw(st.booleans()):
                    state["ItemSelector"] = {"item.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}
            state["MaxConcurrency"] = draw(st.integers(0, 3))
        elif kind == "Fail":
            state |= {"Error": "Failed", "Cause": "on purpose"}
        states[name] = state
    return {"StartAt": names[0], "States": states}


def _rename_states(doc: dict[str, Any]) -> dict[str, Any]:
    """Give every state a name unique in the whole definition (s1, s2, ...), as ASL requires."""
    counter = iter(range(1, 10**6))

    def scope(program: dict[str, Any]) -> None:
        names = {old: f"s{next(counter)}" for old in program["States"]}
        program["StartAt"] = names[program["StartAt"]]
        program["States"] = {names[old]: state for old, state in program["States"].items()}
        for state in program["States"].values():
            for holder in [state, *state.get("Choices", []), *state.get("Catch", [])]:
                if "Next" in holder:
                    holder["Next"] = names[holder["Next"]]
            if "Default" in state:
                state["Default"] = names[state["Default"]]
            for branch in state.get("Branches", []):
                scope(branch)
            if "ItemProcessor" in state:
                scope(state["ItemProcessor"])

    scope(doc)
    return doc


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    jsonata = draw(st.booleans())
    doc = _rename_states(draw(programs(0, jsonata)))
    if jsonata:
        doc["QueryLanguage"] = "JSONata"
    return doc


# Values that are almost right: bad paths, intrinsics, JSONata, States.ALL misuse, long names.
breakers = st.one_of(
    st.sampled_from(["$..[", "$.a[*]", "$$.Execution", "States.Nope()", "States.Format(", "{% ( %}", "{% 1 + %}",
                     "States.ALL", "", "x" * 81, "$x", "States.ArrayLength($.a, 1)", "2016-13-01T00:00:00Z"]),
    st.lists(st.sampled_from(["States.ALL", "Custom", "States.TaskFailed"]), min_size=1, max_size=3),
)


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _slots(value, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((node, i))
            _slots(value, out)
    return out


@st.composite
def mutated_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A valid definition with a few random edits: deletions, replaced values, extra keys."""
    doc = copy.deepcopy(draw(definitions()))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(doc, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["delete", "replace", "add", "break", "rename"]))
        if action == "delete" and isinstance(container, dict):
            del container[key]
        elif action == "break":
            container[key] = draw(breakers)
        elif action == "rename" and isinstance(container, dict):
            # Renaming keys yields duplicate state names, dangling Next targets and typos.
            container[draw(st.sampled_from(["s1", "s2", "s3", "n" * 81, "Nexts", "Next"]))] = container.pop(key)
        elif action == "add" and isinstance(container, dict):
            container[draw(st.sampled_from(["Next", "End", "Result", "Bogus", "Catch", "Seconds", "ItemsPath",
                                            "Output", "Parameters", "Variable"]))] = draw(json_values)
        else:
            container[key] = draw(json_values)
    return doc


# --- properties --------------------------------------------------------------------------------


def _resolve(doc: Any, location: str) -> bool:
    """Whether the JSON pointer `location` names a node of `doc`."""
    node = doc
    for token in location.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
    return True


def _check_problems(doc: Any) -> list[Any]:
    problems = validate(doc)
    assert isinstance(problems, list)
    for p in problems:
        assert p.code in PROBLEM_CODES, p
        assert p.location == "" or p.location.startswith("/"), p
        assert p.message
        if not isinstance(doc, str):
            # Every pointer names a real node: the bad field, or the object missing a field.
            assert _resolve(doc, p.location), p
    return problems


@FAST
@given(json_values)
def test_validate_never_raises_on_any_json(doc: Any) -> None:
    _check_problems(doc)


@FAST
@given(definitions())
def test_generated_definitions_are_valid_and_compile(doc: dict[str, Any]) -> None:
    assert _check_problems(doc) == []
    compile_definition(doc)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_definitions())
def test_validate_and_compile_on_broken_definitions(doc: dict[str, Any]) -> None:
    problems = _check_problems(doc)
    try:
        compile_definition(doc)
    except ValidationError:
        # Whatever compile refuses, validate must have reported too.
        assert problems, "compile_definition rejected a definition validate() accepted"


@FAST
@given(definitions(), inputs)
def test_valid_definitions_run_without_python_exceptions(doc: dict[str, Any], data: dict[str, Any]) -> None:
    run = execute(doc, data, resources=_resources())
    assert run.status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
    if run.status == "FAILED":
        assert isinstance(run.error, str) and run.error
    assert run.events and run.events[0]["type"] == "ExecutionStarted"


@FAST
@given(mutated_definitions(), inputs)
def test_definitions_validate_accepts_run_without_python_exceptions(doc: dict[str, Any], data: dict[str, Any]) -> None:
    if validate(doc):
        return
    run = execute(doc, data, resources=_resources())
    assert run.status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@FAST
@given(st.one_of(
    st.text(max_size=40),
    st.builds(lambda doc, cut: __import__("json").dumps(doc)[:cut], json_values, st.integers(0, 60)),
    st.sampled_from(["1: {2: 3}\n", "StartAt: [\n", "States: !!python/object:os.system {}\n", "- a\n- b\n", "~"]),
))
def test_validate_never_raises_on_any_text(text: str) -> None:
    problems = _check_problems(text)
    if problems and problems[0].code in ("PARSE_ERROR", "DUPLICATE_KEY"):
        assert len(problems) == 1
