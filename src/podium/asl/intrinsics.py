"""Intrinsic functions (`States.Format(...)` and friends) for JSONPath states.

API:
    is_intrinsic(text) -> bool: the string looks like an intrinsic call (`States.X(`).
    compile_intrinsic(text) -> Intrinsic
        Parses the call once: nested calls, string literals in single quotes with the escapes
        \\' \\{ \\} \\\\, numbers, true/false/null, and JSONPath arguments ($, $$, $var).
        Unknown functions, wrong argument counts, literal arguments of the wrong type and
        more than 10 nested calls raise podium.errors.ValidationError.
    Intrinsic.evaluate(data, context=None, variables=None, rng=None) -> Any
        Evaluates against the state input `data`, the context object and workflow variables.
        A bad argument value raises AslRuntimeError(States.IntrinsicFailure, cause); a path
        argument that does not exist raises AslRuntimeError(States.Runtime, cause).
        `rng` (a random.Random) makes States.MathRandom/States.UUID reproducible.
    Intrinsic.text, Intrinsic.name

Shared with the JSONata extensions: partition(array, size), inclusive_range(start, end, step),
hash_text(text, algorithm), HASH_ALGORITHMS.

Functions: States.Format, StringToJson, JsonToString, Array, ArrayPartition, ArrayContains,
ArrayRange, ArrayGetItem, ArrayLength, ArrayUnique, Base64Encode, Base64Decode, Hash, JsonMerge,
MathRandom, MathAdd, StringSplit, UUID — with AWS's limits (ArrayRange ≤ 1000 items,
Base64/Hash input ≤ 10,000 characters, MathAdd in the 32-bit integer range, JsonMerge shallow).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.asl.entropy import generator
from podium.asl.errors import STATES_INTRINSIC_FAILURE, AslRuntimeError
from podium.asl.jsonpath import JsonPath, compile_path, to_json_text
from podium.errors import ValidationError

__all__ = [
    "HASH_ALGORITHMS",
    "Intrinsic",
    "compile_intrinsic",
    "hash_text",
    "inclusive_range",
    "is_intrinsic",
    "partition",
]

_MAX_NESTING = 10
_MAX_STRING = 10_000
_MAX_RANGE_ITEMS = 1000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

_CALL_START = re.compile(r"\s*States\.[A-Za-z0-9]+\s*\(")


def is_intrinsic(text: Any) -> bool:
    return isinstance(text, str) and _CALL_START.match(text) is not None


# --- argument nodes ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    value: Any
    # For string literals: the pieces between unescaped `{}` placeholders (States.Format).
    format_parts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _PathArg:
    path: JsonPath


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Literal | _PathArg | _Call, ...]
    func: Callable[[_Call, list[Any], random.Random | None], Any]


_Arg = _Literal | _PathArg | _Call


def _fail(name: str, message: str) -> AslRuntimeError:
    return AslRuntimeError(STATES_INTRINSIC_FAILURE, f"Invalid arguments in {name}: {message}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _want_int(name: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not _is_number(value):
        raise _fail(name, f"{what} must be an integer, got {_kind(value)} {to_json_text(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise _fail(name, f"{what} must be an integer, got {to_json_text(value)}")
        return int(value)
    return int(value)


def _want(name: str, what: str, value: Any, kind: type, label: str) -> Any:
    """Checks a JSON value's type (str, list, dict or bool: none of them overlap)."""
    if not isinstance(value, kind):
        raise _fail(name, f"{what} must be {label}, got {_kind(value)} {to_json_text(value)}")
    return value


def _java_round(x: float) -> int:
    # AWS rounds each MathAdd operand like Java's Math.round: half-way goes up (towards +inf).
    return math.floor(x + 0.5)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _format_value(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int or kind is float:
        return repr(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return to_json_text(value)


# --- operations shared with the JSONata extension functions ($partition, $range, $hash) ---

HASH_ALGORITHMS: dict[str, str] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def partition(array: list[Any], size: int) -> list[list[Any]]:
    """Chunks of `size` items (the last may be shorter); `size` must be positive."""
    return [array[i : i + size] for i in range(0, len(array), size)]


def inclusive_range(start: int, end: int, step: int) -> list[int]:
    """start, start+step, … up to and including `end`; ValueError past AWS's 1000 items."""
    if step == 0:
        raise ValueError("the step cannot be 0")
    count = max(0, (end - start) // step + 1)
    if count > _MAX_RANGE_ITEMS:
        raise ValueError(f"the range has {count} items, more than the limit of {_MAX_RANGE_ITEMS}")
    return list(range(start, end + (1 if step > 0 else -1), step))


def hash_text(text: str, algorithm: str) -> str:
    """Hex digest of the UTF-8 text; `algorithm` is one of HASH_ALGORITHMS."""
    return hashlib.new(HASH_ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


# --- the functions -------------------------------------------------------------------------


def _f_format(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    template = args[0]
    first = call.args[0]
    if isinstance(first, _Literal) and first.format_parts is not None:
        parts = first.format_parts
    else:
        template = _want("States.Format", "the format string", template, str, "a string")
        parts = tuple(template.split("{}"))
    values = args[1:]
    if len(parts) - 1 != len(values):
        raise _fail(
            "States.Format",
            f"the format string has {len(parts) - 1} placeholder(s) but {len(values)} "
            "value(s) were given",
        )
    out = [parts[0]]
    for value, part in zip(values, parts[1:], strict=True):
        out.append(_format_value(value))
        out.append(part)
    return "".join(out)


def _f_string_to_json(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    text = _want("States.StringToJson", "the argument", args[0], str, "a string")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail("States.StringToJson", f"the string is not valid JSON ({exc})") from None


def _f_json_to_string(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    return to_json_text(args[0])


def _f_array(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    return list(args)


def _f_array_partition(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.ArrayPartition"
    array = _want(name, "the first argument", args[0], list, "an array")
    size = _want_int(name, "the chunk size", args[1])
    if size <= 0:
        raise _fail(name, f"the chunk size must be greater than 0, got {size}")
    return partition(array, size)


def _f_array_contains(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    array = _want("States.ArrayContains", "the first argument", args[0], list, "an array")
    return any(_json_equal(item, args[1]) for item in array)


def _f_array_range(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.ArrayRange"
    start = _want_int(name, "the start", args[0])
    end = _want_int(name, "the end", args[1])
    step = _want_int(name, "the step", args[2])
    try:
        return inclusive_range(start, end, step)
    except ValueError as exc:
        raise _fail(name, str(exc)) from None


def _f_array_get_item(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.ArrayGetItem"
    array = _want(name, "the first argument", args[0], list, "an array")
    index = _want_int(name, "the index", args[1])
    if not 0 <= index < len(array):
        raise _fail(name, f"the index {index} is out of bounds for an array of length {len(array)}")
    return array[index]


def _f_array_length(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    return len(_want("States.ArrayLength", "the argument", args[0], list, "an array"))


def _f_array_unique(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    array = _want("States.ArrayUnique", "the argument", args[0], list, "an array")
    out: list[Any] = []
    for item in array:
        if not any(_json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _limited(name: str, value: Any) -> str:
    text = _want(name, "the argument", value, str, "a string")
    if len(text) > _MAX_STRING:
        raise _fail(name, f"the input has {len(text)} characters, more than the limit of 10000")
    return str(text)


def _f_base64_encode(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    text = _limited("States.Base64Encode", args[0])
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _f_base64_decode(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    text = _limited("States.Base64Decode", args[0])
    try:
        return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise _fail("States.Base64Decode", "the argument is not valid base64") from None


def _f_hash(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.Hash"
    data = args[0]
    if data is None:
        raise _fail(name, "the data to hash cannot be null")
    text = data if isinstance(data, str) else to_json_text(data)
    if len(text) > _MAX_STRING:
        raise _fail(name, f"the input has {len(text)} characters, more than the limit of 10000")
    algorithm = _want(name, "the algorithm", args[1], str, "a string")
    if algorithm not in HASH_ALGORITHMS:
        raise _fail(name, f"the algorithm '{algorithm}' is not one of {', '.join(HASH_ALGORITHMS)}")
    return hash_text(text, algorithm)


def _f_json_merge(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.JsonMerge"
    left = _want(name, "the first argument", args[0], dict, "a JSON object")
    right = _want(name, "the second argument", args[1], dict, "a JSON object")
    deep = _want(name, "the third argument", args[2], bool, "a boolean")
    if deep:
        raise _fail(name, "only shallow merge is supported; the third argument must be false")
    merged = dict(left)
    merged.update(right)
    return merged


def _f_math_random(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.MathRandom"
    for what, value in zip(("the start", "the end"), args, strict=False):
        if not _is_number(value):
            raise _fail(name, f"{what} must be a number, got {_kind(value)}")
    start, end = int(args[0]), int(args[1])
    if start >= end:
        raise _fail(name, f"the start ({start}) must be less than the end ({end})")
    if len(args) == 3:
        seed = _want_int(name, "the seed", args[2])
        return random.Random(seed).randrange(start, end)
    return (rng or generator()).randrange(start, end)


def _f_math_add(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.MathAdd"
    total = 0
    for what, value in zip(("the first argument", "the second argument"), args, strict=True):
        if not _is_number(value):
            raise _fail(name, f"{what} must be a number, got {_kind(value)} {to_json_text(value)}")
        rounded = _java_round(value) if isinstance(value, float) else int(value)
        if not _INT32_MIN <= rounded <= _INT32_MAX:
            raise _fail(name, f"{what} ({rounded}) is outside the 32-bit integer range")
        total += rounded
    return total


def _f_string_split(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    name = "States.StringSplit"
    text = _want(name, "the string", args[0], str, "a string")
    delimiters = _want(name, "the delimiter", args[1], str, "a string")
    if not delimiters:
        return [text] if text else []
    # Every character of the second argument is a delimiter; empty pieces are dropped.
    pieces = re.split("[" + re.escape(delimiters) + "]", text)
    return [p for p in pieces if p]


def _f_uuid(call: _Call, args: list[Any], rng: random.Random | None) -> Any:
    return str(uuid.UUID(int=(rng or generator()).getrandbits(128), version=4))


# name -> (function, minimum args, maximum args or None for any)
_FUNCTIONS: dict[str, tuple[Callable[[_Call, list[Any], random.Random | None], Any], int, int | None]] = {
    "States.Format": (_f_format, 1, None),
    "States.StringToJson": (_f_string_to_json, 1, 1),
    "States.JsonToString": (_f_json_to_string, 1, 1),
    "States.Array": (_f_array, 0, None),
    "States.ArrayPartition": (_f_array_partition, 2, 2),
    "States.ArrayContains": (_f_array_contains, 2, 2),
    "States.ArrayRange": (_f_array_range, 3, 3),
    "States.ArrayGetItem": (_f_array_get_item, 2, 2),
    "States.ArrayLength": (_f_array_length, 1, 1),
    "States.ArrayUnique": (_f_array_unique, 1, 1),
    "States.Base64Encode": (_f_base64_encode, 1, 1),
    "States.Base64Decode": (_f_base64_decode, 1, 1),
    "States.Hash": (_f_hash, 2, 2),
    "States.JsonMerge": (_f_json_merge, 3, 3),
    "States.MathRandom": (_f_math_random, 2, 3),
    "States.MathAdd": (_f_math_add, 2, 2),
    "States.StringSplit": (_f_string_split, 2, 2),
    "States.UUID": (_f_uuid, 0, 0),
}

# Literal argument kinds each function accepts, checked at compile time (None: any).
_LITERAL_KINDS: dict[str, tuple[tuple[str, ...] | None, ...]] = {
    "States.Format": (("string",),),
    "States.StringToJson": (("string",),),
    "States.ArrayPartition": (("array",), ("integer",)),
    "States.ArrayContains": (("array",), None),
    "States.ArrayRange": (("integer",), ("integer",), ("integer",)),
    "States.ArrayGetItem": (("array",), ("integer",)),
    "States.ArrayLength": (("array",),),
    "States.ArrayUnique": (("array",),),
    "States.Base64Encode": (("string",),),
    "States.Base64Decode": (("string",),),
    "States.Hash": (None, ("string",)),
    "States.JsonMerge": (("object",), ("object",), ("boolean",)),
    "States.MathRandom": (("integer", "number"), ("integer", "number"), ("integer",)),
    "States.MathAdd": (("integer", "number"), ("integer", "number")),
    "States.StringSplit": (("string",), ("string",)),
}


# --- parser ------------------------------------------------------------------------------

_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> ValidationError:
        return ValidationError(
            f"Invalid intrinsic function '{self.text}': {reason} at position {self.pos}",
            code="InvalidIntrinsicFunction",
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def parse_call(self, depth: int) -> _Call:
        if depth > _MAX_NESTING:
            raise self.fail(f"more than {_MAX_NESTING} nested intrinsic functions")
        self.skip_ws()
        m = _NAME.match(self.text, self.pos)
        if not m:
            raise self.fail("expected an intrinsic function such as States.Format(...)")
        name = m.group()
        if name not in _FUNCTIONS:
            raise self.fail(f"unknown intrinsic function {name}")
        self.pos = m.end()
        self.skip_ws()
        if not self.text.startswith("(", self.pos):
            raise self.fail("expected '('")
        self.pos += 1
        args: list[_Arg] = []
        self.skip_ws()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                args.append(self.parse_arg(depth))
                self.skip_ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                if self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                raise self.fail("expected ',' or ')'")
        func, lo, hi = _FUNCTIONS[name]
        if len(args) < lo or (hi is not None and len(args) > hi):
            expected = str(lo) if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise self.fail(f"{name} takes {expected} argument(s), got {len(args)}")
        self.check_literals(name, args)
        return _Call(name, tuple(args), func)

    def check_literals(self, name: str, args: list[_Arg]) -> None:
        kinds = _LITERAL_KINDS.get(name, ())
        for i, arg in enumerate(args):
            if not isinstance(arg, _Literal) or i >= len(kinds) or kinds[i] is None:
                continue
            allowed = kinds[i]
            assert allowed is not None
            kind = _kind(arg.value)
            if kind not in allowed and not (kind == "number" and "integer" in allowed and float(arg.value).is_integer()):
                raise self.fail(
                    f"argument {i + 1} of {name} must be {' or '.join(allowed)}, got {kind}"
                )
        if name == "States.JsonMerge" and isinstance(args[2], _Literal) and args[2].value is True:
            raise self.fail("States.JsonMerge supports only shallow merge: the third argument must be false")
        if name == "States.Hash" and isinstance(args[1], _Literal) and args[1].value not in HASH_ALGORITHMS:
            raise self.fail(f"States.Hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")

    def parse_arg(self, depth: int) -> _Arg:
        self.skip_ws()
        text = self.text
        if self.pos >= len(text):
            raise self.fail("unexpected end, expected an argument")
        ch = text[self.pos]
        if ch == "'":
            return self.parse_string()
        if ch == "$":
            return self.parse_path()
        if text.startswith("States.", self.pos):
            return self.parse_call(depth + 1)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, self.pos) and not text[self.pos + len(word) : self.pos + len(word) + 1].isalnum():
                self.pos += len(word)
                return _Literal(value)
        m = _NUMBER.match(text, self.pos)
        if m:
            self.pos = m.end()
            s = m.group()
            return _Literal(float(s) if any(c in s for c in ".eE") else int(s))
        raise self.fail("expected a 'string', a number, true, false, null, a path or a function")

    def parse_string(self) -> _Literal:
        text = self.text
        self.pos += 1
        parts: list[str] = []
        current: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text):
                nxt = text[self.pos + 1]
                if nxt in "'{}\\":
                    current.append(nxt)
                    self.pos += 2
                    continue
                current.append(ch)
                self.pos += 1
                continue
            if ch == "'":
                self.pos += 1
                parts.append("".join(current))
                return _Literal("{}".join(parts), tuple(parts))
            if ch == "{" and text.startswith("{}", self.pos):
                parts.append("".join(current))
                current = []
                self.pos += 2
                continue
            current.append(ch)
            self.pos += 1
        raise self.fail("unterminated string literal")

    def parse_path(self) -> _PathArg:
        # A path runs to the next ',' or ')' outside brackets, parentheses and quotes.
        text = self.text
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(text):
            ch = text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        path_text = text[start : self.pos].strip()
        try:
            return _PathArg(compile_path(path_text))
        except ValidationError as exc:
            raise self.fail(f"bad path argument: {exc.message}") from None


# --- evaluation --------------------------------------------------------------------------


_Evaluator = Callable[[Any, Any, Any, Any], Any]


def _compile_node(node: _Arg) -> _Evaluator:
    """Turns the parsed call tree into nested closures, so evaluation does no dispatch."""
    if isinstance(node, _Literal):
        value = node.value

        def literal(data: Any, context: Any, variables: Any, rng: Any) -> Any:
            return value

        return literal
    if isinstance(node, _PathArg):
        select = node.path.select

        def path(data: Any, context: Any, variables: Any, rng: Any) -> Any:
            return select(data, context, variables)

        return path
    call = node
    func = node.func
    arg_fns = tuple(_compile_node(a) for a in node.args)

    def apply(data: Any, context: Any, variables: Any, rng: Any) -> Any:
        return func(call, [f(data, context, variables, rng) for f in arg_fns], rng)

    return apply


@dataclass(frozen=True, eq=False)
class Intrinsic:
    """A compiled intrinsic function call; see the module docstring."""

    text: str
    call: _Call
    _run: _Evaluator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_run", _compile_node(self.call))

    @property
    def name(self) -> str:
        return self.call.name

    def evaluate(
        self,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
    ) -> Any:
        return self._run(data, context, variables, rng)


def compile_intrinsic(text: str) -> Intrinsic:
    """Parses `States.X(...)` once; raises ValidationError on bad syntax."""
    if not isinstance(text, str):
        raise ValidationError(
            f"Invalid intrinsic function {text!r}: expected a string like States.Format(...)",
            code="InvalidIntrinsicFunction",
        )
    parser = _Parser(text)
    call = parser.parse_call(1)
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the closing ')'")
    return Intrinsic(text, call)
