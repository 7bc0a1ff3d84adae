"""JSONata expressions (`"{% ... %}"`) for states with QueryLanguage JSONata.

API:
    is_jsonata(value) -> bool: a string of the form "{% ... %}".
    compile_jsonata(text, field="Output") -> JsonataExpression
        Compiles one "{% expr %}" string (or a bare expression) once; bad syntax raises
        podium.errors.ValidationError naming the field.
    JsonataExpression.evaluate(states, variables=None, field=None, rng=None) -> Any
        Evaluates with `$states` bound to `states` ({"input", "context", and "result" /
        "errorOutput" when present}) and every workflow variable bound as `$name`. Failures
        raise AslRuntimeError(States.QueryEvaluationError, cause) with AWS's wording:
        "The JSONata expression '<expr>' specified for the field '<field>' threw an error
        during evaluation. <CODE>: <message>", "... returned nothing (undefined).",
        "... returned an unsupported result type." (functions).
    JsonataExpression.evaluate_optional(...) -> Any | UNDEFINED: the same, but an undefined
        result is returned as the UNDEFINED marker instead of failing.
    compile_jsonata_template(obj, field="Output") -> JsonataTemplate
        Walks Arguments / Output / Assign / ItemSelector-like objects: any string value that is
        "{% %}" is compiled, everything else is a literal. Field paths in causes follow AWS:
        "Output/key/sub" for object keys and "Output/list[0]" for array items.
    JsonataTemplate.evaluate(states, variables=None) -> Any; .is_static; .text (the inner
        expression when the whole template is one "{% %}" string, else None)
    unexpected_type_error(expression, field, expected, value) -> AslRuntimeError
        AWS's "returned an unexpected result type. Expected 'array', but was 'object' for
        value: {...}" failure, for callers that need a result of a given type (Items, …).
    json_type_name(value) -> str (re-exported from podium.asl.jsonpath).

AWS's JSONata extension functions are registered on every expression: $partition(array,
size), $range(start, end, step), $hash(value, algorithm), $random([seed]), $uuid(),
$parse(json_text); `rng` (a random.Random) makes $random/$uuid reproducible. $now() and
$millis() read `$states.context.State.EnteredTime` when present (the run's clock).
Simple paths (`$states.input.a.b`, `$var.x`) are walked natively; everything else runs in
jsonata-python with a budget (3000 nested evaluations, 5 s) so runaway recursion or an endless
tail-call loop fails with D1011 / D1012 instead of hanging the worker.
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonata as _jsonata_lib
from jsonata.functions import Functions as _Functions
from jsonata.utils import Utils as _Utils

from podium.asl.entropy import generator
from podium.asl.errors import STATES_QUERY_EVALUATION_ERROR, AslRuntimeError
from podium.asl.intrinsics import HASH_ALGORITHMS, hash_text, inclusive_range, partition
from podium.asl.jsonpath import json_type_name, to_json_text
from podium.asl.timestamps import parse_timestamp
from podium.errors import ValidationError

__all__ = [
    "UNDEFINED",
    "JsonataExpression",
    "JsonataTemplate",
    "compile_jsonata",
    "compile_jsonata_template",
    "is_jsonata",
    "json_type_name",
    "unexpected_type_error",
]


class _Undefined:
    """JSONata's `undefined`: an expression that produced no value at all."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()
_NULL = _Utils.NULL_VALUE


def is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


def unexpected_type_error(expression: str, field: str, expected: str, value: Any) -> AslRuntimeError:
    return AslRuntimeError(
        STATES_QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{expression}' specified for the field '{field}' returned an "
        f"unexpected result type. Expected '{expected}', but was '{json_type_name(value)}' "
        f"for value: {to_json_text(value)}",
    )


class _Unsupported(Exception):
    """The result holds something JSON cannot (a function)."""


class _OutOfRange(Exception):
    """The result holds a number JSON cannot (infinity or NaN)."""


def _to_json(value: Any) -> Any:
    """Turns a library result into plain JSON values (None is JSON null here)."""
    if value is _NULL or value is None:
        return None
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _OutOfRange
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    raise _Unsupported


# --- AWS extension functions -------------------------------------------------------------


class _ExtensionError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _arg(value: Any) -> Any:
    return None if value is _NULL else _to_json(value) if isinstance(value, (list, dict)) else value


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _fn_partition(array: Any = None, size: Any = None) -> Any:
    array, size = _arg(array), _arg(size)
    if not isinstance(array, list):
        raise _ExtensionError("The first argument of $partition must be an array")
    if not _is_int(size) or int(size) <= 0:
        raise _ExtensionError("The second argument of $partition must be a positive integer")
    return partition(array, int(size))


def _fn_range(start: Any = None, end: Any = None, step: Any = None) -> Any:
    start, end, step = _arg(start), _arg(end), _arg(step)
    if not (_is_int(start) and _is_int(end) and _is_int(step)):
        raise _ExtensionError("The arguments of $range must be integers")
    try:
        return inclusive_range(int(start), int(end), int(step))
    except ValueError as exc:
        raise _ExtensionError(f"$range: {exc}") from None


def _fn_hash(value: Any = None, algorithm: Any = None) -> Any:
    value, algorithm = _arg(value), _arg(algorithm)
    if algorithm is None:
        algorithm = "SHA-256"
    if algorithm not in HASH_ALGORITHMS:
        raise _ExtensionError(f"The hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    if value is None:
        raise _ExtensionError("The value to hash cannot be null")
    text = value if isinstance(value, str) else to_json_text(value)
    return hash_text(text, algorithm)


def _fn_parse(text: Any = None) -> Any:
    text = _arg(text)
    if not isinstance(text, str):
        raise _ExtensionError("The argument of $parse must be a string")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _ExtensionError(f"$parse could not parse the string as JSON: {exc}") from None


def _make_random(rng: random.Random | None) -> Callable[..., Any]:
    def _fn_random(seed: Any = None) -> Any:
        seed = _arg(seed)
        if seed is not None:
            return random.Random(seed if isinstance(seed, (int, float, str)) else to_json_text(seed)).random()
        return (rng or generator()).random()

    return _fn_random


def _make_uuid(rng: random.Random | None) -> Callable[..., Any]:
    def _fn_uuid() -> Any:
        return str(uuid.UUID(int=(rng or generator()).getrandbits(128), version=4))

    return _fn_uuid


def _bind_clock(bindings: dict[str, Any], states: Mapping[str, Any]) -> None:
    """Binds $now()/$millis() to the state's entry time, so they follow the run's clock.

    The interpreter is a pure function of its events: reading the wall clock here would make
    replays differ. AWS evaluates $now() while the state runs, which its EnteredTime matches
    to the millisecond in practice. Without a context time the library's clock is used.
    """
    context = states.get("context")
    state = context.get("State") if isinstance(context, Mapping) else None
    entered = parse_timestamp(state.get("EnteredTime")) if isinstance(state, Mapping) else None
    if entered is None:
        return
    millis = int(entered.timestamp() * 1000)

    def now(picture: Any = None, zone: Any = None) -> Any:
        return _Functions.datetime_from_millis(millis, _arg(picture), _arg(zone))

    bindings["now"] = _jsonata_lib.Jsonata.JLambda(now)
    bindings["millis"] = _jsonata_lib.Jsonata.JLambda(lambda: millis)


# --- runaway guard -----------------------------------------------------------------------

# The library has no usable per-evaluation bound (its Timebox starts its clock at compile
# time), tail calls loop forever, and importing it raises the process's recursion limit to
# 10,000. Every library evaluation therefore runs with its own depth and step budget, bound
# through the library's evaluate entry/exit hooks; the depth budget stays well under what
# that recursion limit allows (about two Python frames per level). The step budget stands in
# for JSONata's evaluation timeout: counting steps instead of reading a clock keeps the step
# function deterministic (the same expression on the same data always stops at the same
# point), and a million steps take a few seconds.
_MAX_DEPTH = 3000  # about 1,000 levels of non-tail recursion, well inside the C stack
_MAX_STEPS = 1_000_000


class _StepBudgetExceeded(Exception):
    """JSONata's D1012 (evaluation timeout), counted in evaluation steps."""

    error = "D1012"

    def __init__(self) -> None:
        super().__init__(f"Evaluation stopped after {_MAX_STEPS} steps. Check for infinite loop")


class _Budget:
    __slots__ = ("depth", "steps")

    def __init__(self) -> None:
        self.depth = 0
        self.steps = 0

    def enter(self, expr: Any, data: Any, env: Any) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _jsonata_lib.JException("D1011", -1)
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise _StepBudgetExceeded()

    def leave(self, expr: Any, data: Any, env: Any, result: Any) -> None:
        self.depth -= 1


# --- expressions -------------------------------------------------------------------------


def _inner(text: str) -> str:
    return text[2:-2].strip() if is_jsonata(text) else text.strip()


_ARRAY_OF = re.compile(r"array of ([abfnos])$")
_ARRAY_TYPES = {"a": "arrays", "b": "booleans", "f": "functions", "n": "numbers", "o": "objects", "s": "strings"}


def _library_message(exc: BaseException) -> str:
    code = getattr(exc, "error", None)
    message = str(exc)
    if isinstance(exc, (ZeroDivisionError, OverflowError)):
        return ". D1001: Number out of range"
    if isinstance(exc, ValueError) and "could not convert string to float" in message:
        return ". D3030: Unable to cast value to a number"
    if code == "D3137":  # $error("..."): AWS prints the bare message
        return f": {message}"
    if isinstance(code, str) and code:
        # jsonata-python's message catalogue says "Object" where jsonata-js says "function",
        # and prints T0412's array type as its signature letter.
        message = message.replace("Object", "function")
        message = _ARRAY_OF.sub(lambda m: "array of " + _ARRAY_TYPES[m.group(1)], message)
        return f". {code}: {message}"
    return f": {message}"


_SIMPLE_PATH = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_NOT_FOUND = object()


def _simple_path(text: str) -> tuple[str, tuple[str, ...]] | None:
    m = _SIMPLE_PATH.fullmatch(text)
    if m is None:
        return None
    steps = tuple(m.group(2).split(".")[1:]) if m.group(2) else ()
    return m.group(1), steps


@dataclass(eq=False)
class JsonataExpression:
    """One compiled JSONata expression; see the module docstring."""

    text: str  # the expression without the {% %} markers, as AWS prints it
    field: str
    _expr: Any
    # `$states.input.a.b` / `$var.x`: walked natively when every step meets an object; any
    # other shape (arrays, missing keys, functions) goes to the library, which is ~100x slower.
    _fast: tuple[str, tuple[str, ...]] | None = None
    _uses_clock: bool = False

    def _walk(self, states: Mapping[str, Any], variables: Mapping[str, Any] | None) -> Any:
        assert self._fast is not None
        root, steps = self._fast
        if root == "states":
            cur: Any = states
        elif variables is not None and root in variables:
            cur = variables[root]
        else:
            return _NOT_FOUND
        for step in steps:
            if type(cur) is not dict or step not in cur:
                return _NOT_FOUND
            cur = cur[step]
        kind = type(cur)
        if kind is str or kind is int or kind is bool or cur is None:
            return cur
        if kind is float:
            return int(cur) if cur.is_integer() and abs(cur) < 2**53 else cur
        if kind is dict:
            return _to_json(cur)
        return _NOT_FOUND

    def evaluate(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
        field: str | None = None,
        rng: random.Random | None = None,
    ) -> Any:
        value = self.evaluate_optional(states, variables, field, rng)
        if value is UNDEFINED:
            raise AslRuntimeError(
                STATES_QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.text}' specified for the field "
                f"'{field or self.field}' returned nothing (undefined).",
            )
        return value

    def evaluate_optional(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
        field: str | None = None,
        rng: random.Random | None = None,
    ) -> Any:
        if self._fast is not None:
            found = self._walk(states, variables)
            if found is not _NOT_FOUND:
                return found
        # A top-level None binding would read as `undefined`; JSON null is the library's NULL.
        bindings: dict[str, Any] = (
            {k: _NULL if v is None else v for k, v in variables.items()} if variables else {}
        )
        bindings["states"] = states
        if self._uses_clock:
            _bind_clock(bindings, states)
        budget = _Budget()
        bindings["__evaluate_entry"] = budget.enter
        bindings["__evaluate_exit"] = budget.leave
        expr = self._expr
        if rng is not None:
            bindings["random"] = _jsonata_lib.Jsonata.JLambda(_make_random(rng))
            bindings["uuid"] = _jsonata_lib.Jsonata.JLambda(_make_uuid(rng))
        # The library keeps "the current expression" per thread for lambdas and $now().
        _jsonata_lib.Jsonata.CURRENT.jsonata = expr
        try:
            raw = expr.evaluate(None, bindings)
        except _ExtensionError as exc:
            raise self._failure(field, f": {exc.message}") from None
        except RecursionError:
            message = _jsonata_lib.JException("D1011", -1)
            raise self._failure(field, f". D1011: {message}") from None
        except Exception as exc:  # the library raises assorted Python errors besides JException
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, _ExtensionError):
                raise self._failure(field, f": {cause.message}") from None
            raise self._failure(field, _library_message(exc)) from None
        if raw is None:
            return UNDEFINED
        try:
            return _to_json(raw)
        except _OutOfRange:
            raise self._failure(field, ". D1001: Number out of range") from None
        except _Unsupported:
            raise AslRuntimeError(
                STATES_QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.text}' specified for the field "
                f"'{field or self.field}' returned an unsupported result type.",
            ) from None

    def _failure(self, field: str | None, tail: str) -> AslRuntimeError:
        return AslRuntimeError(
            STATES_QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{self.text}' specified for the field "
            f"'{field or self.field}' threw an error during evaluation{tail}",
        )


def compile_jsonata(text: str, field: str = "Output") -> JsonataExpression:
    """Compiles "{% expr %}" (or a bare expression) once; ValidationError on bad syntax."""
    if not isinstance(text, str):
        raise ValidationError(
            f"{field}: a JSONata expression must be a string like '{{% $states.input %}}'",
            code="InvalidJsonata",
        )
    inner = _inner(text)
    if not inner:
        raise ValidationError(
            f"{field}: the JSONata expression '{text}' is empty; write one between '{{%' and '%}}'",
            code="InvalidJsonata",
        )
    try:
        expr = _jsonata_lib.Jsonata(inner)
    except Exception as exc:  # JException, and assorted errors on malformed input
        raise ValidationError(
            f"{field}: the JSONata expression '{inner}' is not valid JSONata: {exc}",
            code="InvalidJsonata",
        ) from None
    if expr.get_errors():
        raise ValidationError(
            f"{field}: the JSONata expression '{inner}' is not valid JSONata: {expr.get_errors()[0]}",
            code="InvalidJsonata",
        )
    expr.set_output_convert_nulls(False)
    expr.set_validate_input(False)
    expr.register_lambda("partition", _fn_partition)
    expr.register_lambda("range", _fn_range)
    expr.register_lambda("hash", _fn_hash)
    expr.register_lambda("parse", _fn_parse)
    expr.register_lambda("random", _make_random(None))
    expr.register_lambda("uuid", _make_uuid(None))
    uses_clock = "$now" in inner or "$millis" in inner
    return JsonataExpression(inner, field, expr, _simple_path(inner), uses_clock)


# --- templates ---------------------------------------------------------------------------

_Eval = Callable[[Mapping[str, Any], Mapping[str, Any] | None, random.Random | None], Any]


def _compile_node(obj: Any, where: str) -> tuple[Any, _Eval | None]:
    if is_jsonata(obj):
        expression = compile_jsonata(obj, where)

        def eval_expression(
            states: Mapping[str, Any], variables: Mapping[str, Any] | None, rng: random.Random | None
        ) -> Any:
            return expression.evaluate(states, variables, where, rng)

        return None, eval_expression
    if isinstance(obj, dict):
        entries = [(k, *_compile_node(v, f"{where}/{k}")) for k, v in obj.items()]
        if all(e is None for _, _, e in entries):
            return obj, None
        parts = tuple(entries)

        def eval_object(
            states: Mapping[str, Any], variables: Mapping[str, Any] | None, rng: random.Random | None
        ) -> Any:
            return {k: c if e is None else e(states, variables, rng) for k, c, e in parts}

        return None, eval_object
    if isinstance(obj, list):
        items = [_compile_node(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if all(e is None for _, e in items):
            return obj, None
        seq = tuple(items)

        def eval_list(
            states: Mapping[str, Any], variables: Mapping[str, Any] | None, rng: random.Random | None
        ) -> Any:
            return [c if e is None else e(states, variables, rng) for c, e in seq]

        return None, eval_list
    return obj, None


@dataclass(frozen=True, eq=False)
class JsonataTemplate:
    """A JSON value in which any string may be a "{% %}" expression."""

    source: Any
    field: str
    _constant: Any
    _eval: _Eval | None

    @property
    def is_static(self) -> bool:
        return self._eval is None

    @property
    def text(self) -> str | None:
        return _inner(self.source) if is_jsonata(self.source) else None

    def evaluate(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
    ) -> Any:
        if self._eval is None:
            return self._constant
        return self._eval(states, variables, rng)


def compile_jsonata_template(obj: Any, field: str = "Output") -> JsonataTemplate:
    constant, evaluate = _compile_node(obj, field)
    return JsonataTemplate(obj, field, constant, evaluate)
