"""Choice rules: comparison operators, And/Or/Not, and JSONata Conditions.

API:
    compile_choice_rule(rule, query_language="JSONPath", *, top_level=True, where="Choices")
        -> ChoiceRule
        JSONPath rules: `Variable` plus exactly one operator — String/Numeric/Timestamp
        Equals/LessThan/GreaterThan/LessThanEquals/GreaterThanEquals (and each …Path form),
        BooleanEquals(Path), StringMatches, IsPresent, IsNull, IsNumeric, IsString, IsBoolean,
        IsTimestamp — or And/Or (non-empty lists of rules) / Not (one rule). JSONata rules:
        `Condition: "{% … %}"`. Top-level rules need `Next`; nested ones must not have it.
        Bad rules raise podium.errors.ValidationError with the location of the problem.
    ChoiceRule.matches(data, context=None, variables=None, states=None) -> bool
        Type mismatches are simply false, as in AWS. A Variable (or …Path operand) that does
        not exist raises AslRuntimeError(States.Runtime, "Invalid path '<p>': The choice
        state's condition path references an invalid value."), except under IsPresent.
        JSONata rules evaluate Condition with `states` ({"input", "context"}; built from
        data/context when None); a non-boolean result raises States.QueryEvaluationError.
    ChoiceRule.next (str | None), .rule (the source dict),
    ChoiceRule.assign: None, a payload Template (JSONPath) or a JsonataTemplate (JSONata);
    ChoiceRule.output: None or a JsonataTemplate (JSONata rules only).
    is_timestamp(value) -> bool: AWS's RFC 3339 profile (uppercase T, Z or ±hh:mm offset,
        optional fraction), parsed by podium.asl.timestamps.parse_timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium.asl.errors import STATES_RUNTIME, AslRuntimeError
from podium.asl.jsonata import (
    JsonataExpression,
    JsonataTemplate,
    compile_jsonata,
    compile_jsonata_template,
    is_jsonata,
    unexpected_type_error,
)
from podium.asl.jsonpath import JsonPath, compile_path
from podium.asl.payload import Template, compile_template
from podium.asl.timestamps import parse_timestamp
from podium.errors import ValidationError

__all__ = ["ChoiceRule", "compile_choice_rule", "is_timestamp"]

_Test = Callable[[Any, Any, Any], bool]
_StatesTest = Callable[[Any, Any, Any, Any], bool]

# --- timestamps --------------------------------------------------------------------------


def is_timestamp(value: Any) -> bool:
    return parse_timestamp(value) is not None


# --- comparisons -------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and v is not True and v is not False


def _is_bmp(s: str) -> bool:
    return s.isascii() or all(ord(c) < 0x10000 for c in s)


def _cmp(op: str, a: Any, b: Any) -> bool:
    if op == "Equals":
        return bool(a == b)
    if op == "LessThan":
        return bool(a < b)
    if op == "GreaterThan":
        return bool(a > b)
    if op == "LessThanEquals":
        return bool(a <= b)
    return bool(a >= b)


def _numeric(op: str) -> Callable[[Any, Any], bool]:
    def test(a: Any, b: Any) -> bool:
        return _is_number(a) and _is_number(b) and _cmp(op, a, b)

    return test


def _string(op: str) -> Callable[[Any, Any], bool]:
    def test(a: Any, b: Any) -> bool:
        if type(a) is not str or type(b) is not str:
            return False
        if _is_bmp(a) and _is_bmp(b):
            return _cmp(op, a, b)
        # Java compares strings by UTF-16 code units; astral characters order differently.
        return _cmp(op, a.encode("utf-16-be"), b.encode("utf-16-be"))

    return test


def _timestamp(op: str) -> Callable[[Any, Any], bool]:
    def test(a: Any, b: Any) -> bool:
        ta = parse_timestamp(a)
        tb = b if isinstance(b, datetime) else parse_timestamp(b)
        return ta is not None and tb is not None and _cmp(op, ta, tb)

    return test


def _boolean(a: Any, b: Any) -> bool:
    return type(a) is bool and type(b) is bool and a == b


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


_SUFFIXES = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
_COMPARISONS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {}
for _suffix in _SUFFIXES:
    _COMPARISONS["String" + _suffix] = ("string", _string(_suffix))
    _COMPARISONS["Numeric" + _suffix] = ("number", _numeric(_suffix))
    _COMPARISONS["Timestamp" + _suffix] = ("timestamp", _timestamp(_suffix))
_COMPARISONS["BooleanEquals"] = ("boolean", _boolean)

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: type(v) is str,
    "IsBoolean": lambda v: type(v) is bool,
    "IsTimestamp": is_timestamp,
}

_OPERATORS = (
    set(_COMPARISONS)
    | {k + "Path" for k in _COMPARISONS}
    | set(_TYPE_TESTS)
    | {"IsPresent", "StringMatches", "And", "Or", "Not"}
)


def _missing(path: JsonPath) -> AslRuntimeError:
    return AslRuntimeError(
        STATES_RUNTIME,
        f"Invalid path '{path.text}': The choice state's condition path references an invalid value.",
    )


def _operand(path: JsonPath) -> Callable[[Any, Any, Any], Any]:
    name = path.single_member
    if name is not None:

        def member(data: Any, context: Any, variables: Any) -> Any:
            if type(data) is dict and name in data:
                return data[name]
            raise _missing(path)

        return member

    def select(data: Any, context: Any, variables: Any) -> Any:
        if not path.exists(data, context, variables):
            raise _missing(path)
        return path.select(data, context, variables)

    return select


# --- compilation -------------------------------------------------------------------------


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError(f"{where}: {message}", code="InvalidChoiceRule")


def _compile_path(text: Any, where: str) -> JsonPath:
    if not isinstance(text, str):
        raise _bad(where, "must be a JSONPath string such as '$.value'")
    try:
        return compile_path(text)
    except ValidationError as exc:
        raise _bad(where, exc.message) from None


def _compile_jsonpath_rule(rule: dict[str, Any], where: str) -> _Test:
    ops = [k for k in rule if k in _OPERATORS]
    unknown = [k for k in rule if k not in _OPERATORS and k not in ("Variable", "Next", "Comment", "Assign", "Output")]
    if unknown:
        raise _bad(where, f"unknown field(s) {', '.join(sorted(unknown))} in a choice rule")
    if len(ops) != 1:
        raise _bad(
            where,
            "a choice rule needs exactly one operator such as StringEquals, NumericLessThan, "
            f"IsPresent, And, Or or Not; found {len(ops)}"
            + (f" ({', '.join(ops)})" if ops else ""),
        )
    op = ops[0]
    value = rule[op]
    if op in ("And", "Or"):
        if "Variable" in rule:
            raise _bad(where, f"{op} cannot have a Variable")
        if not isinstance(value, list) or not value:
            raise _bad(f"{where}/{op}", "must be a non-empty list of choice rules")
        subs = tuple(
            _compile(sub, "JSONPath", False, f"{where}/{op}/{i}") for i, sub in enumerate(value)
        )
        tests = tuple(s._test for s in subs)
        if op == "And":
            return lambda d, c, v: all(t(d, c, v, None) for t in tests)
        return lambda d, c, v: any(t(d, c, v, None) for t in tests)
    if op == "Not":
        if "Variable" in rule:
            raise _bad(where, "Not cannot have a Variable")
        if not isinstance(value, dict):
            raise _bad(f"{where}/Not", "must be one choice rule (an object)")
        inner = _compile(value, "JSONPath", False, f"{where}/Not")._test
        return lambda d, c, v: not inner(d, c, v, None)

    if "Variable" not in rule:
        raise _bad(where, f"{op} needs a Variable (a path such as '$.value')")
    variable = _compile_path(rule["Variable"], f"{where}/Variable")
    if op == "IsPresent":
        if type(value) is not bool:
            raise _bad(f"{where}/{op}", "must be true or false")
        expected = value
        return lambda d, c, v: variable.exists(d, c, v) is expected
    get = _operand(variable)
    if op in _TYPE_TESTS:
        if type(value) is not bool:
            raise _bad(f"{where}/{op}", "must be true or false")
        check = _TYPE_TESTS[op]
        expected = value
        return lambda d, c, v: check(get(d, c, v)) is expected
    if op == "StringMatches":
        if not isinstance(value, str):
            raise _bad(f"{where}/{op}", "must be a string pattern (use * as a wildcard, \\* for a star)")
        pattern = _wildcard_regex(value)
        return lambda d, c, v: type(x := get(d, c, v)) is str and pattern.fullmatch(x) is not None
    if op.endswith("Path"):
        kind, compare = _COMPARISONS[op[:-4]]
        other = _operand(_compile_path(value, f"{where}/{op}"))
        return lambda d, c, v: compare(get(d, c, v), other(d, c, v))
    kind, compare = _COMPARISONS[op]
    constant: Any = value
    if kind == "string" and type(value) is not str:
        raise _bad(f"{where}/{op}", "must be a string")
    if kind == "number" and not _is_number(value):
        raise _bad(f"{where}/{op}", "must be a number")
    if kind == "boolean" and type(value) is not bool:
        raise _bad(f"{where}/{op}", "must be true or false")
    if kind == "timestamp":
        constant = parse_timestamp(value)
        if constant is None:
            raise _bad(
                f"{where}/{op}",
                f"'{value}' is not a timestamp; use RFC 3339 such as 2016-08-18T17:33:00Z",
            )
    return lambda d, c, v: compare(get(d, c, v), constant)


def _compile_condition(rule: dict[str, Any], where: str) -> _StatesTest:
    extra = [k for k in rule if k not in ("Condition", "Next", "Comment", "Assign", "Output")]
    if extra:
        raise _bad(
            where,
            f"a JSONata choice rule has only Condition, Next, Assign and Output; "
            f"found {', '.join(sorted(extra))}",
        )
    condition = rule.get("Condition")
    if isinstance(condition, bool):
        return lambda d, c, v, s: condition
    if not isinstance(condition, str) or not is_jsonata(condition):
        raise _bad(f"{where}/Condition", "must be a JSONata expression '{% … %}' or a boolean")
    expression: JsonataExpression = compile_jsonata(condition, f"{where}/Condition")
    field = "Condition"

    def test(data: Any, context: Any, variables: Any, states: Any) -> bool:
        if states is None:
            states = {"input": data, "context": {} if context is None else context}
        result = expression.evaluate(states, variables, field)
        if type(result) is not bool:
            raise unexpected_type_error(expression.text, field, "boolean", result)
        return result

    return test


def _compile(rule: Any, query_language: str, top_level: bool, where: str) -> ChoiceRule:
    if not isinstance(rule, dict):
        raise _bad(where, "a choice rule must be an object")
    nxt = rule.get("Next")
    if top_level:
        if not isinstance(nxt, str) or not nxt:
            raise _bad(where, "a top-level choice rule needs Next (the name of a state)")
    elif "Next" in rule:
        raise _bad(where, "only top-level choice rules have Next; remove it from nested rules")
    assign: Template | JsonataTemplate | None = None
    output: JsonataTemplate | None = None
    if query_language == "JSONata":
        test = _compile_condition(rule, where)
        if top_level and "Assign" in rule:
            assign = compile_jsonata_template(rule["Assign"], "Assign")
        if top_level and "Output" in rule:
            output = compile_jsonata_template(rule["Output"], "Output")
    elif query_language == "JSONPath":
        if "Condition" in rule:
            raise _bad(where, "Condition is JSONata; in a JSONPath state use Variable and an operator")
        if "Output" in rule:
            raise _bad(where, "Output is JSONata; a JSONPath choice rule cannot have it")
        path_test = _compile_jsonpath_rule(rule, where)
        test = lambda d, c, v, s: path_test(d, c, v)  # noqa: E731
        if top_level and "Assign" in rule:
            assign = compile_template(rule["Assign"], f"{where}/Assign")
    else:
        raise _bad(where, f"unknown query language {query_language!r}; use JSONPath or JSONata")
    return ChoiceRule(rule, nxt if top_level else None, test, assign, output)


@dataclass(frozen=True, eq=False)
class ChoiceRule:
    """A compiled choice rule; see the module docstring."""

    rule: dict[str, Any]
    next: str | None
    _test: _StatesTest
    assign: Template | JsonataTemplate | None = None
    output: JsonataTemplate | None = None

    def matches(
        self,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        states: Mapping[str, Any] | None = None,
    ) -> bool:
        return self._test(data, context, variables, states)


def compile_choice_rule(
    rule: dict[str, Any],
    query_language: str = "JSONPath",
    *,
    top_level: bool = True,
    where: str = "Choices",
) -> ChoiceRule:
    """Compiles one choice rule once; ValidationError names the offending location."""
    return _compile(rule, query_language, top_level, where)
