"""JSONPath as Amazon States Language uses it, compiled once and evaluated fast.

API:
    compile_path(text) -> JsonPath
        Any AWS JSONPath: `$` (state input), `$$` (context object), `$name` / `$name.a.b`
        (workflow variables); members `.a` / `['a']`, indexes `[0]` / `[-1]`, lists `[0,2]`,
        slices `[1:3]`, wildcards `.*` / `[*]`, filters `[?(@.price > 10 && @.tag == 'x')]`,
        deep scan `..a`, and a trailing function as Jayway JsonPath has them: length(),
        size(), min(), max(), avg(), sum(), stddev(), first(), last(), keys(). In filters `@`
        matches objects only, as AWS documents. Raises podium.errors.ValidationError on bad
        syntax.
    JsonPath.select(data, context=None, variables=None) -> Any
        A definite path (only members and single indexes) returns the one value or raises
        AslRuntimeError(States.Runtime, "Invalid path '<text>' : <detail>"); an indefinite
        path returns the list of matches (possibly empty) and never fails.
    JsonPath.select_for_field(field, data, context=None, variables=None) -> Any
        The same, but a miss reports AWS's Parameters/ErrorPath wording: "The JSONPath '<text>'
        specified for the field '<field>' could not be found in the input '<json>'".
    JsonPath.exists(data, context=None, variables=None) -> bool: the path reaches a value.
    JsonPath.text, .root ("$", "$$" or "$name"), .definite (one value, not a list),
        .is_reference (single node, no function: what ResultPath accepts), .is_variable, .is_context,
        .single_member (the name when the path is exactly `$.name`, else None)
    compile_reference_path(text) -> ReferencePath  (a `$`-rooted JsonPath limited to one
        node: members and indexes only, as ResultPath requires)
    ReferencePath.assign(document, value) -> new document with value placed at the path
        ("$" returns value). The input is never mutated: only the objects along the path are
        copied. A missing object along the way is created; a non-object in the way raises
        AslRuntimeError(States.ResultPathMatchFailure, ...). ResultPath null (discard the
        result) is the caller's choice: keep the input and do not call assign.
    to_json_text(value) -> str: compact JSON the way AWS prints values in causes.
    json_type_name(value) -> str: 'null', 'boolean', 'number', 'string', 'array', 'object'.

Selected values share structure with `data`: callers treat documents as immutable.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podium.asl.errors import (
    STATES_RESULT_PATH_MATCH_FAILURE,
    STATES_RUNTIME,
    AslRuntimeError,
)
from podium.errors import ValidationError

__all__ = [
    "JsonPath",
    "ReferencePath",
    "compile_path",
    "compile_reference_path",
    "json_type_name",
    "to_json_text",
]


def to_json_text(value: Any) -> str:
    """Compact JSON, as Step Functions prints documents inside error causes."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


# --- compiled segments -----------------------------------------------------------------
# Each segment is a tuple whose first item names its kind. Definite paths (members and
# single indexes only) additionally keep a flat tuple of keys for the hot loop.

_MEMBER = 0  # ("name",)
_INDEX = 1  # (int,)
_WILDCARD = 2
_INDEXES = 3  # (tuple[int, ...],)
_SLICE = 4  # (start|None, stop|None, step|None)
_MEMBERS = 5  # (tuple[str, ...],)
_FILTER = 6  # (predicate,)
_SCAN = 7  # (inner segment,)


class _Miss(Exception):
    """A definite path found nothing; `detail` is the Jayway-style reason AWS prints."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


_Segment = tuple[Any, ...]
_Predicate = Callable[[Any, Any], bool]


def _fragment(seg: _Segment) -> str:
    kind = seg[0]
    if kind == _MEMBER:
        return "['" + str(seg[1]) + "']"
    if kind == _INDEX:
        return f"[{seg[1]}]"
    if kind == _MEMBERS:
        return "[" + ",".join("'" + m + "'" for m in seg[1]) + "]"
    if kind == _INDEXES:
        return "[" + ",".join(str(i) for i in seg[1]) + "]"
    if kind == _SLICE:
        start, stop, _ = seg[1], seg[2], seg[3]
        return f"[{'' if start is None else start}:{'' if stop is None else stop}]"
    if kind == _WILDCARD:
        return "[*]"
    if kind == _FILTER:
        return "[?]"
    return ".." + _fragment(seg[1])


def json_type_name(value: Any) -> str:
    """The JSON type of a value as AWS names it in causes: null, boolean, number, …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Selector(Protocol):
    def __call__(
        self,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Any: ...


@dataclass(frozen=True, eq=False)
class JsonPath:
    """A compiled JSONPath; see the module docstring."""

    text: str
    root: str  # "$", "$$" or "$<variable name>"
    segments: tuple[_Segment, ...]
    definite: bool
    _keys: tuple[str | int, ...] = field(repr=False)
    _has_index: bool = field(repr=False)
    _walk_definite: bool = field(repr=False)
    function: str | None = None  # a trailing `.length()`-style function, applied last

    @property
    def is_variable(self) -> bool:
        return self.root not in ("$", "$$")

    @property
    def is_context(self) -> bool:
        return self.root == "$$"

    @property
    def is_reference(self) -> bool:
        """Names one node that could be written: members and single indexes, no function."""
        return self._walk_definite and self.function is None

    @property
    def single_member(self) -> str | None:
        """The member name when the path is exactly `$.name`, the shape hot callers inline."""
        if (
            self.root == "$"
            and self.function is None
            and len(self._keys) == 1
            and type(self._keys[0]) is str
        ):
            return self._keys[0]
        return None

    def _root_value(
        self, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None
    ) -> Any:
        root = self.root
        if root == "$":
            return data
        if root == "$$":
            return {} if context is None else context
        name = root[1:]
        if variables is None or name not in variables:
            raise _Miss(f"Variable '{name}' is not defined")
        return variables[name]

    # `select` is bound per instance in __post_init__ to a closure specialised for the path's
    # shape: the common `$.a` / `$.a.b` cases cost one or two subscripts and a try block.
    select: _Selector = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "select", _make_selector(self))

    def _raise_miss(
        self, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None
    ) -> AslRuntimeError:
        try:
            self._select(data, context, variables)
        except _Miss as miss:
            return AslRuntimeError(STATES_RUNTIME, f"Invalid path '{self.text}' : {miss.detail}")
        raise AssertionError("a fast selector missed where the full walk found a value")

    def select_for_field(
        self,
        field_name: str,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return self._select(data, context, variables)
        except _Miss:
            raise AslRuntimeError(
                STATES_RUNTIME,
                f"The JSONPath '{self.text}' specified for the field '{field_name}' "
                f"could not be found in the input '{to_json_text(data)}'",
            ) from None

    def exists(
        self,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> bool:
        """True when a definite path reaches a value (or an indefinite one matches any)."""
        try:
            found = self._select(data, context, variables)
        except _Miss:
            return False
        return self.definite or bool(found)

    def _select(
        self, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None
    ) -> Any:
        found = self._walk(data, context, variables)
        if self.function is not None:
            return _FUNCTIONS[self.function](found)
        return found

    def _walk(
        self, data: Any, context: Mapping[str, Any] | None, variables: Mapping[str, Any] | None
    ) -> Any:
        cur = data if self.root == "$" else self._root_value(data, context, variables)
        if self._walk_definite:
            if not self._has_index:
                try:
                    for key in self._keys:
                        cur = cur[key]
                    return cur
                except (KeyError, TypeError):
                    pass
            else:
                try:
                    for key in self._keys:
                        if type(key) is int and type(cur) is not list:
                            raise TypeError
                        cur = cur[key]
                    return cur
                except (KeyError, TypeError, IndexError):
                    pass
            cur = data if self.root == "$" else self._root_value(data, context, variables)
            raise _Miss(self._miss_detail(cur))
        nodes = [cur]
        for seg in self.segments:
            nodes = _apply(seg, nodes, data)
            if not nodes:
                break
        return nodes

    def _miss_detail(self, cur: Any) -> str:
        """Replays a failed definite walk to name the step that failed, as Jayway does."""
        walked = "$"
        last = len(self.segments) - 1
        for pos, seg in enumerate(self.segments):
            frag = _fragment(seg)
            if seg[0] == _MEMBER:
                if not isinstance(cur, dict):
                    return (
                        f"Expected to find an object with property {frag} in path {walked} "
                        f"but found '{json_type_name(cur)}'. This is not a json object."
                    )
                if seg[1] not in cur:
                    if pos == last:
                        return f"No results for path: {self._normalized()}"
                    return f"Missing property in path {walked}{frag}"
            else:
                if not isinstance(cur, list):
                    return (
                        f"Filter: {frag} can only be applied to arrays. "
                        f"Current context is: {to_json_text(cur)}"
                    )
                idx = seg[1]
                if not -len(cur) <= idx < len(cur):
                    return f"No results for path: {self._normalized()}"
            cur = cur[seg[1]]
            walked += frag
        return f"No results for path: {self._normalized()}"

    def _normalized(self) -> str:
        return "$" + "".join(_fragment(s) for s in self.segments)


def _make_selector(path: JsonPath) -> _Selector:
    keys = path._keys
    if path.function is not None:
        return _generic_selector(path)
    if path.root == "$" and path.definite and not path._has_index and len(keys) <= 2:
        raise_miss = path._raise_miss
        if not keys:

            def select_root(
                data: Any,
                context: Mapping[str, Any] | None = None,
                variables: Mapping[str, Any] | None = None,
            ) -> Any:
                return data

            return select_root
        if len(keys) == 1:
            k0 = keys[0]

            def select_1(
                data: Any,
                context: Mapping[str, Any] | None = None,
                variables: Mapping[str, Any] | None = None,
            ) -> Any:
                # A str key on anything but a dict raises TypeError (lists, strings, numbers).
                try:
                    return data[k0]
                except (KeyError, TypeError):
                    pass
                raise raise_miss(data, context, variables)

            return select_1
        k0, k1 = keys

        def select_2(
            data: Any,
            context: Mapping[str, Any] | None = None,
            variables: Mapping[str, Any] | None = None,
        ) -> Any:
            try:
                return data[k0][k1]
            except (KeyError, TypeError):
                pass
            raise raise_miss(data, context, variables)

        return select_2

    if path.definite:
        return _definite_selector(path)
    return _generic_selector(path)


def _generic_selector(path: JsonPath) -> _Selector:
    text = path.text
    walk = path._select

    def select_any(
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return walk(data, context, variables)
        except _Miss as miss:
            raise AslRuntimeError(STATES_RUNTIME, f"Invalid path '{text}' : {miss.detail}") from None

    return select_any


def _definite_selector(path: JsonPath) -> _Selector:
    """A loop over plain keys; any failure replays the walk to build AWS's message."""
    keys = path._keys
    root = path.root
    raise_miss = path._raise_miss
    variable = root[1:] if root not in ("$", "$$") else None
    checked = path._has_index

    def select_definite(
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Any:
        if root == "$":
            cur = data
        elif variable is None:
            cur = {} if context is None else context
        elif variables is not None and variable in variables:
            cur = variables[variable]
        else:
            raise raise_miss(data, context, variables)
        try:
            if checked:
                for key in keys:
                    # An int index on a string would pick a character: only lists index.
                    if type(key) is int and type(cur) is not list:
                        raise TypeError
                    cur = cur[key]
            else:
                for key in keys:
                    cur = cur[key]
            return cur
        except (KeyError, TypeError, IndexError):
            pass
        raise raise_miss(data, context, variables)

    return select_definite


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _apply(seg: _Segment, nodes: list[Any], root: Any) -> list[Any]:
    kind = seg[0]
    out: list[Any] = []
    if kind == _MEMBER:
        name = seg[1]
        for n in nodes:
            if isinstance(n, dict) and name in n:
                out.append(n[name])
    elif kind == _INDEX:
        idx = seg[1]
        for n in nodes:
            if isinstance(n, list) and -len(n) <= idx < len(n):
                out.append(n[idx])
    elif kind == _WILDCARD:
        for n in nodes:
            out.extend(_children(n))
    elif kind == _INDEXES:
        for n in nodes:
            if isinstance(n, list):
                out.extend(n[i] for i in seg[1] if -len(n) <= i < len(n))
    elif kind == _SLICE:
        sl = slice(seg[1], seg[2], seg[3])
        for n in nodes:
            if isinstance(n, list):
                out.extend(n[sl])
    elif kind == _MEMBERS:
        for n in nodes:
            if isinstance(n, dict):
                out.extend(n[m] for m in seg[1] if m in n)
    elif kind == _FILTER:
        pred: _Predicate = seg[1]
        for n in nodes:
            if isinstance(n, list):
                # AWS: "@ does not match scalar values. It only matches objects."
                out.extend(item for item in n if type(item) is dict and pred(item, root))
            elif isinstance(n, dict) and pred(n, root):
                out.append(n)
    else:  # _SCAN: the inner segment applied at every depth, parents before children
        inner = seg[1]
        stack = list(reversed(nodes))
        while stack:
            n = stack.pop()
            out.extend(_apply(inner, [n], root))
            stack.extend(reversed(_children(n)))
    return out


# --- parser ------------------------------------------------------------------------------

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.function: str | None = None

    def fail(self, reason: str) -> ValidationError:
        return ValidationError(
            f"Invalid JSONPath '{self.text}': {reason} at position {self.pos}; "
            "expected a path like $.field, $['field'], $.items[0], $$.Execution.Id or $variable",
            code="InvalidJsonPath",
        )

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def eat(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def parse_root(self) -> str:
        if not self.eat("$"):
            raise self.fail("a path must start with '$'")
        if self.eat("$"):
            return "$$"
        m = _VARIABLE_NAME.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return "$" + m.group()
        return "$"

    def parse_segments(self, stop: str = "") -> list[_Segment]:
        segs: list[_Segment] = []
        text = self.text
        while self.pos < len(text) and text[self.pos] not in stop:
            if self.eat(".."):
                if self.peek() == "[":
                    segs.append((_SCAN, self.parse_bracket()))
                elif self.eat("*"):
                    segs.append((_SCAN, (_WILDCARD,)))
                else:
                    segs.append((_SCAN, (_MEMBER, self.parse_name(stop))))
            elif self.eat("."):
                if self.eat("*"):
                    segs.append((_WILDCARD,))
                    continue
                name = self.parse_name(stop)
                if text.startswith("()", self.pos):
                    if name not in _FUNCTIONS:
                        raise self.fail(
                            f"unknown path function {name}(); use one of "
                            + ", ".join(f"{f}()" for f in _FUNCTIONS)
                        )
                    self.pos += 2
                    if self.pos < len(text) and text[self.pos] not in stop:
                        raise self.fail(f"{name}() must end the path")
                    self.function = name
                    return segs
                segs.append((_MEMBER, name))
            elif self.peek() == "[":
                segs.append(self.parse_bracket())
            else:
                raise self.fail(f"unexpected character {text[self.pos]!r}")
        return segs

    def parse_name(self, stop: str) -> str:
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in ".[" + stop:
            ch = text[self.pos]
            if ch == "(" and text.startswith("()", self.pos) and self.pos > start:
                break
            if ch in " \t\n\r()'\"]*":
                raise self.fail(f"character {ch!r} is not allowed in a member name; use ['...']")
            self.pos += 1
        if self.pos == start:
            raise self.fail("empty member name")
        return text[start : self.pos]

    def parse_quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in (quote, "\\"):
                # Only the delimiter and the backslash itself are escapes: AWS keeps any
                # other backslash literally (`$['a\"b']` names the key a\"b).
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise self.fail("unterminated quoted name")

    def parse_int(self) -> int:
        self.skip_ws()
        m = _INT.match(self.text, self.pos)
        if not m:
            raise self.fail("expected an integer")
        self.pos = m.end()
        self.skip_ws()
        return int(m.group())

    def parse_bracket(self) -> _Segment:
        self.eat("[")
        self.skip_ws()
        ch = self.peek()
        if ch == "*":
            self.pos += 1
            self.skip_ws()
            seg: _Segment = (_WILDCARD,)
        elif ch in ("'", '"'):
            names = [self.parse_quoted()]
            self.skip_ws()
            while self.eat(","):
                self.skip_ws()
                if self.peek() not in ("'", '"'):
                    raise self.fail("expected a quoted name")
                names.append(self.parse_quoted())
                self.skip_ws()
            seg = (_MEMBER, names[0]) if len(names) == 1 else (_MEMBERS, tuple(names))
        elif ch == "?":
            self.pos += 1
            self.skip_ws()
            if not self.eat("("):
                raise self.fail("a filter must look like [?(...)]")
            pred = _FilterParser(self).parse_or()
            self.skip_ws()
            if not self.eat(")"):
                raise self.fail("expected ')' to close the filter")
            self.skip_ws()
            seg = (_FILTER, pred)
        elif ch == ":" or _INT.match(self.text, self.pos):
            start: int | None = None
            if ch != ":":
                start = self.parse_int()
            if self.eat(":"):
                stop: int | None = None
                step: int | None = None
                self.skip_ws()
                if self.peek() not in ("]", ":"):
                    stop = self.parse_int()
                if self.eat(":"):
                    self.skip_ws()
                    if self.peek() != "]":
                        step = self.parse_int()
                        if step == 0:
                            raise self.fail("slice step cannot be 0")
                seg = (_SLICE, start, stop, step)
            else:
                assert start is not None
                indexes = [start]
                while self.eat(","):
                    indexes.append(self.parse_int())
                seg = (_INDEX, start) if len(indexes) == 1 else (_INDEXES, tuple(indexes))
        else:
            raise self.fail("expected an index, a slice, '*', a quoted name or a filter")
        if not self.eat("]"):
            raise self.fail("expected ']'")
        return seg


# --- filters -------------------------------------------------------------------------

_MISSING = object()


def _resolve(path: JsonPath, node: Any, root: Any) -> Any:
    base = node if path.root == "@" else root
    if path.definite:
        cur = base
        for key in path._keys:
            if type(key) is int:
                if type(cur) is not list or not -len(cur) <= key < len(cur):
                    return _MISSING
            elif type(cur) is not dict or key not in cur:
                return _MISSING
            cur = cur[key]
        return cur
    nodes = [base]
    for seg in path.segments:
        nodes = _apply(seg, nodes, root)
    return nodes


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return op in ("!=", "nin") and not (a is _MISSING and b is _MISSING)
    if op in ("==", "!="):
        same = (a == b and _is_num(a) == _is_num(b)) if not (_is_num(a) and _is_num(b)) else a == b
        return same if op == "==" else not same
    if op in ("<", "<=", ">", ">="):
        if _is_num(a) and _is_num(b) or isinstance(a, str) and isinstance(b, str):
            if op == "<":
                return bool(a < b)
            if op == "<=":
                return bool(a <= b)
            if op == ">":
                return bool(a > b)
            return bool(a >= b)
        return False
    if op == "=~":
        return isinstance(a, str) and isinstance(b, re.Pattern) and b.fullmatch(a) is not None
    if op in ("in", "nin"):
        found = isinstance(b, list) and any(_compare("==", a, x) for x in b)
        return found if op == "in" else not found
    if op == "size":
        return isinstance(a, (str, list)) and _is_num(b) and len(a) == b
    if op == "empty":
        is_empty = isinstance(a, (str, list)) and len(a) == 0
        return is_empty if b is True else (isinstance(a, (str, list)) and not is_empty)
    if op == "subsetof":
        return isinstance(a, list) and isinstance(b, list) and all(x in b for x in a)
    if op == "anyof":
        return isinstance(a, list) and isinstance(b, list) and any(x in b for x in a)
    if op == "noneof":
        return isinstance(a, list) and isinstance(b, list) and not any(x in b for x in a)
    if op == "contains":
        if isinstance(a, str):
            return isinstance(b, str) and b in a
        return isinstance(a, list) and b in a
    return False


_Operand = Callable[[Any, Any], Any]
_OPS = ("==", "!=", "<=", ">=", "=~", "<", ">")
_WORD_OPS = ("nin", "in", "size", "empty", "subsetof", "anyof", "noneof", "contains")


class _FilterParser:
    def __init__(self, outer: _Parser) -> None:
        self.p = outer

    def parse_or(self) -> _Predicate:
        left = self.parse_and()
        while True:
            self.p.skip_ws()
            if not self.p.eat("||"):
                return left
            right = self.parse_and()
            left = (lambda lf, rf: lambda n, r: lf(n, r) or rf(n, r))(left, right)

    def parse_and(self) -> _Predicate:
        left = self.parse_unary()
        while True:
            self.p.skip_ws()
            if not self.p.eat("&&"):
                return left
            right = self.parse_unary()
            left = (lambda lf, rf: lambda n, r: lf(n, r) and rf(n, r))(left, right)

    def parse_unary(self) -> _Predicate:
        p = self.p
        p.skip_ws()
        if p.peek() == "!" and p.peek(2) != "!=":
            p.pos += 1
            inner = self.parse_unary()
            return lambda n, r: not inner(n, r)
        if p.peek() == "(":
            p.pos += 1
            inner = self.parse_or()
            p.skip_ws()
            if not p.eat(")"):
                raise p.fail("expected ')'")
            return inner
        left, is_path = self.parse_operand()
        p.skip_ws()
        op = next((o for o in _OPS if p.text.startswith(o, p.pos)), None)
        if op is None:
            op = next(
                (
                    w
                    for w in _WORD_OPS
                    if p.text.startswith(w, p.pos)
                    and not p.text[p.pos + len(w) : p.pos + len(w) + 1].isalnum()
                ),
                None,
            )
        if op is None:
            if not is_path:
                raise p.fail("expected a comparison operator")
            # `[?(@.x)]`: the item has the member
            return lambda n, r: left(n, r) is not _MISSING
        p.pos += len(op)
        p.skip_ws()
        if op == "=~":
            right = self.parse_regex()
        else:
            right, _ = self.parse_operand()
        return lambda n, r: _compare(op, left(n, r), right(n, r))

    def parse_regex(self) -> _Operand:
        p = self.p
        if not p.eat("/"):
            raise p.fail("expected a /regex/")
        start = p.pos
        while p.pos < len(p.text) and p.text[p.pos] != "/":
            p.pos += 2 if p.text[p.pos] == "\\" else 1
        if p.pos >= len(p.text):
            raise p.fail("unterminated regex")
        body = p.text[start : p.pos]
        p.pos += 1
        flags = 0
        while p.peek() in ("i", "m", "s", "x") and p.peek():
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[p.peek()]
            p.pos += 1
        try:
            pattern = re.compile(body, flags)
        except re.error as exc:
            raise p.fail(f"bad regex: {exc}") from None
        return lambda n, r: pattern

    def parse_operand(self) -> tuple[_Operand, bool]:
        p = self.p
        p.skip_ws()
        ch = p.peek()
        if ch in ("@", "$"):
            is_node = ch == "@"
            p.pos += 1
            segs = p.parse_segments(stop=" \t)=!<>&|,]")
            path = _make_path(p.text, "@" if is_node else "$", segs)
            return (lambda n, r: _resolve(path, n, r)), True
        if ch in ("'", '"'):
            s = p.parse_quoted()
            return (lambda n, r: s), False
        if ch == "[":
            p.pos += 1
            items: list[Any] = []
            p.skip_ws()
            while not p.eat("]"):
                op, _ = self.parse_operand()
                items.append(op(None, None))
                p.skip_ws()
                if p.eat(","):
                    p.skip_ws()
                elif p.peek() != "]":
                    raise p.fail("expected ',' or ']' in a list")
            return (lambda n, r: items), False
        for word, value in (("true", True), ("false", False), ("null", None)):
            if p.eat(word):
                return (lambda n, r, v=value: v), False
        m = _NUMBER.match(p.text, p.pos)
        if m:
            p.pos = m.end()
            num: int | float = float(m.group()) if any(c in m.group() for c in ".eE") else int(m.group())
            return (lambda n, r: num), False
        raise p.fail("expected @.path, $.path, a string, a number, true, false or null")


# --- construction ------------------------------------------------------------------------


# --- path functions (Jayway's, which AWS accepts at the end of a path: `$.items.length()`) ---


def _numbers(name: str, value: Any) -> list[float]:
    items = value if isinstance(value, list) else [value]
    numbers = [float(v) for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        raise _Miss(f"Aggregation function {name}() attempted to calculate value using empty array")
    return numbers


def _fn_length(value: Any) -> Any:
    return len(value) if isinstance(value, (list, dict)) else None


def _fn_stddev(value: Any) -> Any:
    numbers = _numbers("stddev", value)
    mean = sum(numbers) / len(numbers)
    return (sum((n - mean) ** 2 for n in numbers) / len(numbers)) ** 0.5


def _fn_end(first: bool) -> Callable[[Any], Any]:
    def pick(value: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise _Miss(f"Invalid function: {'first' if first else 'last'}() needs a non-empty array")
        return value[0] if first else value[-1]

    return pick


def _fn_keys(value: Any) -> Any:
    return list(value) if isinstance(value, dict) else None


_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "length": _fn_length,
    "size": _fn_length,
    "min": lambda v: min(_numbers("min", v)),
    "max": lambda v: max(_numbers("max", v)),
    "avg": lambda v: sum(_numbers("avg", v)) / len(_numbers("avg", v)),
    "sum": lambda v: sum(_numbers("sum", v)),
    "stddev": _fn_stddev,
    "first": _fn_end(True),
    "last": _fn_end(False),
    "keys": _fn_keys,
}


def _make_path(text: str, root: str, segs: list[_Segment], function: str | None = None) -> JsonPath:
    walk_definite = all(s[0] in (_MEMBER, _INDEX) for s in segs)
    keys: tuple[str | int, ...] = tuple(s[1] for s in segs) if walk_definite else ()
    has_index = any(s[0] == _INDEX for s in segs)
    return JsonPath(
        text, root, tuple(segs), walk_definite or function is not None, keys, has_index,
        walk_definite, function,
    )


def compile_path(text: str) -> JsonPath:
    """Parses an ASL JSONPath once; raises ValidationError on bad syntax."""
    if not isinstance(text, str):
        raise ValidationError(
            f"Invalid JSONPath {text!r}: a path must be a string starting with '$'",
            code="InvalidJsonPath",
        )
    return _compile_cached(text)


# Definitions repeat the same few paths ($.value, $$.Map.Item.Value) across many states;
# compiled paths are immutable, so sharing them is safe.
@functools.lru_cache(maxsize=4096)
def _compile_cached(text: str) -> JsonPath:
    parser = _Parser(text.strip())
    root = parser.parse_root()
    segs = parser.parse_segments()
    return _make_path(text, root, segs, parser.function)


@dataclass(frozen=True, eq=False)
class ReferencePath:
    """A path that names exactly one node, so a value can be written there."""

    path: JsonPath

    @property
    def text(self) -> str:
        return self.path.text

    def select(
        self,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Any:
        return self.path.select(data, context, variables)

    def assign(self, document: Any, value: Any) -> Any:
        keys = self.path._keys
        if not keys:
            return value
        if len(keys) == 1 and type(document) is dict and type(keys[0]) is str:
            new = dict(document)
            new[keys[0]] = value
            return new
        return self._assign(document, keys, 0, value, document)

    def _assign(self, node: Any, keys: tuple[str | int, ...], i: int, value: Any, doc: Any) -> Any:
        key = keys[i]
        last = i == len(keys) - 1
        if type(key) is str:
            if node is None and i > 0:
                node = {}
            if type(node) is not dict:
                raise self._mismatch(doc)
            new = dict(node)
            new[key] = value if last else self._assign(node.get(key), keys, i + 1, value, doc)
            return new
        assert type(key) is int
        if type(node) is not list or not -len(node) <= key < len(node):
            raise self._mismatch(doc)
        new_list = list(node)
        new_list[key] = value if last else self._assign(node[key], keys, i + 1, value, doc)
        return new_list

    def _mismatch(self, doc: Any) -> AslRuntimeError:
        return AslRuntimeError(
            STATES_RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ReferencePath {self.path.text} to input {to_json_text(doc)}",
        )


def compile_reference_path(text: str) -> ReferencePath:
    """Parses a reference path (members and single indexes only, on `$`)."""
    path = compile_path(text)
    if path.root != "$":
        raise ValidationError(
            f"Invalid reference path '{text}': a reference path starts with '$' and names a "
            "place in the state's data; the context object ($$) and variables ($name) cannot "
            "be written to",
            code="InvalidReferencePath",
        )
    if not path.is_reference:
        raise ValidationError(
            f"Invalid reference path '{text}': a reference path must name a single node "
            "(no wildcards, slices, filters, lists, '..' or functions such as length())",
            code="InvalidReferencePath",
        )
    return ReferencePath(path)
