"""EventBridge event patterns: validated and compiled once, then matched fast.

`compile_pattern` checks a pattern against AWS's syntax (every error says what and
where, as a path like `detail.state[0].anything-but`) and turns it into a tree of
closures specialised for what the pattern uses, so matching an event walks no pattern
JSON. `PatternSet` holds many compiled patterns and indexes them by the exact `source`
(or `detail-type`) values they require, so an event is only tried against the rules
that could match it.

Semantics (AWS's): every field named in the pattern must be present with the same
nesting; a leaf lists the allowed values (any may match); when the event's value is an
array, the leaf matches if any element does; a nested pattern applied to an array of
objects matches if one element matches all of it. `exists` looks only at leaves: a field
holding an object or an empty array counts as absent. Strings compare case-sensitively,
numbers by value (300 matches 300.0), and `true`/`false`/`null` only themselves.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from podium.errors import ValidationError

K = TypeVar("K")
Predicate = Callable[[Any], bool]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
_NUMBER_TYPES = (int, float)
_COMPARISONS = {
    "<": lambda v, n: v < n,
    "<=": lambda v, n: v <= n,
    ">": lambda v, n: v > n,
    ">=": lambda v, n: v >= n,
    "=": lambda v, n: v == n,
}
OPERATORS = (
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "equals-ignore-case",
    "wildcard",
    "cidr",
)


def invalid_pattern(path: str, reason: str) -> ValidationError:
    where = path or "pattern"
    return ValidationError(
        f"invalid event pattern at {where}: {reason}",
        code="InvalidEventPattern",
        details={"path": where, "reason": reason},
    )


@dataclass(frozen=True)
class EventPattern:
    """A compiled event pattern. `matches(event)` is the only hot-path call."""

    document: Mapping[str, Any]
    _matcher: Callable[[Any], bool] = field(repr=False, compare=False)

    def matches(self, event: Mapping[str, Any]) -> bool:
        # Matchers test `.__class__ is dict` for speed; events read from JSON already are.
        return self._matcher(event if event.__class__ is dict else dict(event))

    def required_values(self, name: str) -> frozenset[str] | None:
        """The exact strings a top-level field must equal for any match, or None when the
        pattern does not pin that field to plain strings (used to index rules)."""
        leaf = self.document.get(name)
        if not isinstance(leaf, list) or not leaf:
            return None
        if not all(isinstance(value, str) for value in leaf):
            return None
        return frozenset(leaf)


def compile_pattern(pattern: Mapping[str, Any] | str) -> EventPattern:
    """Validate an event pattern (a dict or its JSON text) and compile it."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError as exc:
            raise invalid_pattern("", f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(pattern, Mapping):
        raise invalid_pattern("", "an event pattern must be a JSON object")
    return EventPattern(pattern, _compile_object(pattern, ""))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compile_object(pattern: Any, path: str) -> Callable[[Any], bool]:
    """A matcher for an event value expected to be an object holding these fields."""
    if not isinstance(pattern, Mapping):
        raise invalid_pattern(path, "expected an object")
    if not pattern:
        raise invalid_pattern(path, "an object in a pattern must name at least one field")
    checks: list[tuple[int, Callable[[dict[str, Any]], bool]]] = []
    for key, value in pattern.items():
        if not isinstance(key, str):
            raise invalid_pattern(path, f"field names must be strings (got {key!r})")
        here = _join(path, key)
        if key == "$or":
            checks.append((2, _compile_or(value, here)))
        elif isinstance(value, Mapping):
            checks.append((1, _field_check(key, _compile_object(value, here))))
        elif isinstance(value, list):
            leaf, cheap = _compile_leaf(value, here)
            checks.append((0 if cheap else 1, _field_check(key, leaf)))
        else:
            raise invalid_pattern(
                here, f"a field's value must be an array of allowed values or an object (got {value!r})"
            )
    # Cheap exact-string leaves first: most events fail on `source` or `detail-type`.
    ordered = tuple(check for _, check in sorted(checks, key=lambda item: item[0]))
    on_absent = all(check({}) for check in ordered)

    def match_object(value: Any) -> bool:
        if value.__class__ is dict:
            for check in ordered:  # noqa: SIM110 (hot path: a loop beats a generator)
                if not check(value):
                    return False
            return True
        if value.__class__ is list:
            if not value:
                return on_absent
            for element in value:  # noqa: SIM110 (hot path: a loop beats a generator)
                if match_object(element):
                    return True
            return False
        # A scalar or a missing value holds no fields: only patterns made entirely of
        # `exists: false` can match it.
        return on_absent

    return match_object


def _field_check(key: str, matcher: Predicate) -> Callable[[dict[str, Any]], bool]:
    def check(event: dict[str, Any]) -> bool:
        return matcher(event.get(key, MISSING))

    return check


def _compile_or(value: Any, path: str) -> Callable[[dict[str, Any]], bool]:
    if not isinstance(value, list) or not value:
        raise invalid_pattern(path, "$or takes a non-empty array of patterns")
    alternatives = tuple(_compile_object(item, f"{path}[{i}]") for i, item in enumerate(value))

    def check(event: dict[str, Any]) -> bool:
        for alternative in alternatives:  # noqa: SIM110 (hot path: a loop beats a generator)
            if alternative(event):
                return True
        return False

    return check


def _scalars(values: list[Any], into: list[Any]) -> list[Any]:
    for value in values:
        if value.__class__ is list:
            _scalars(value, into)
        elif value.__class__ is not dict:
            into.append(value)
    return into


def _compile_leaf(items: list[Any], path: str) -> tuple[Predicate, bool]:
    """A matcher for an event field's value given the pattern's array of allowed values.
    Also says whether it is a plain set of exact strings (cheap to test first)."""
    if not items:
        raise invalid_pattern(path, "an array of allowed values cannot be empty")
    strings: set[str] = set()
    numbers: set[float] = set()
    singletons: list[Any] = []  # None, True, False: matched by identity
    predicates: list[Predicate] = []
    exists_false = False
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        if isinstance(item, str):
            strings.add(item)
        elif isinstance(item, bool) or item is None:
            singletons.append(item)
        elif isinstance(item, _NUMBER_TYPES):
            numbers.add(item)
        elif isinstance(item, Mapping):
            if len(item) != 1:
                raise invalid_pattern(
                    here, f"a matcher object has exactly one operator (got {sorted(item)})"
                )
            ((operator, argument),) = item.items()
            if operator == "exists":
                if not isinstance(argument, bool):
                    raise invalid_pattern(_join(here, operator), "exists takes true or false")
                if argument:
                    predicates.append(_any_scalar)
                else:
                    exists_false = True
            else:
                predicates.append(_compile_operator(operator, argument, _join(here, operator)))
        else:
            raise invalid_pattern(here, f"allowed values are strings, numbers, booleans, null or a matcher object (got {item!r})")

    frozen_strings = frozenset(strings)
    frozen_numbers = frozenset(numbers)
    frozen_singletons = tuple(singletons)
    frozen_predicates = tuple(predicates)

    def match_scalar(value: Any) -> bool:
        kind = value.__class__
        if kind is str:
            if value in frozen_strings:
                return True
        elif kind is bool or value is None:
            for singleton in frozen_singletons:
                if value is singleton:
                    return True
        elif (kind is int or kind is float) and value in frozen_numbers:
            return True
        for predicate in frozen_predicates:  # noqa: SIM110 (hot path: a loop beats a generator)
            if predicate(value):
                return True
        return False

    def match_value(value: Any) -> bool:
        kind = value.__class__
        if kind is list:
            leaves = _scalars(value, [])
            if not leaves:
                return exists_false
            for leaf in leaves:  # noqa: SIM110 (hot path: a loop beats a generator)
                if match_scalar(leaf):
                    return True
            return False
        if kind is dict or value is MISSING:
            return exists_false
        return match_scalar(value)

    cheap = bool(frozen_strings) and not (numbers or singletons or predicates or exists_false)
    if cheap:

        def match_strings(value: Any) -> bool:
            # The common case (`"source": ["podium.ingest"]`) in one set lookup.
            if value.__class__ is str:
                return value in frozen_strings
            return match_value(value)

        return match_strings, True
    return match_value, False


def _any_scalar(value: Any) -> bool:
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)


def _string_argument(operator: str, argument: Any, path: str) -> str:
    if not isinstance(argument, str):
        raise invalid_pattern(path, f"{operator} takes a string (got {argument!r})")
    return argument


def _strings_argument(operator: str, argument: Any, path: str) -> tuple[str, ...]:
    values = argument if isinstance(argument, list) else [argument]
    if not values or not all(isinstance(v, str) for v in values):
        raise invalid_pattern(path, f"{operator} takes a string or a non-empty array of strings")
    return tuple(values)


def _compile_operator(operator: str, argument: Any, path: str) -> Predicate:
    if operator in ("prefix", "suffix"):
        return _compile_affix(operator, argument, path)
    if operator == "equals-ignore-case":
        lowered = frozenset(s.lower() for s in _strings_argument(operator, argument, path))
        return lambda v: v.__class__ is str and v.lower() in lowered
    if operator == "wildcard":
        regexes = tuple(_wildcard_regex(w, path) for w in _strings_argument(operator, argument, path))
        return lambda v: v.__class__ is str and any(r.fullmatch(v) for r in regexes)
    if operator == "numeric":
        return _compile_numeric(argument, path)
    if operator == "cidr":
        return _compile_cidr(argument, path)
    if operator == "anything-but":
        return _compile_anything_but(argument, path)
    raise invalid_pattern(
        path, f"unknown operator {operator!r}; known operators: {', '.join(OPERATORS)}"
    )


def _compile_affix(operator: str, argument: Any, path: str) -> Predicate:
    ignore_case = False
    if isinstance(argument, Mapping):
        if set(argument) != {"equals-ignore-case"}:
            raise invalid_pattern(
                path, f"{operator} takes a string or {{\"equals-ignore-case\": <string>}}"
            )
        argument = argument["equals-ignore-case"]
        ignore_case = True
    text = _string_argument(operator, argument, path)
    if ignore_case:
        text = text.lower()
        if operator == "prefix":
            return lambda v: v.__class__ is str and v.lower().startswith(text)
        return lambda v: v.__class__ is str and v.lower().endswith(text)
    if operator == "prefix":
        return lambda v: v.__class__ is str and v.startswith(text)
    return lambda v: v.__class__ is str and v.endswith(text)


def _wildcard_regex(pattern: str, path: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "*\\":
                raise invalid_pattern(path, f"in {pattern!r}, '\\' may only escape '*' or '\\'")
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            if i + 1 < len(pattern) and pattern[i + 1] == "*":
                raise invalid_pattern(path, f"consecutive '*' in wildcard {pattern!r}")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _compile_numeric(argument: Any, path: str) -> Predicate:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise invalid_pattern(
            path, 'numeric takes [op, number] or [op, number, op, number], e.g. [">", 0, "<=", 5]'
        )
    tests: list[tuple[Callable[[Any, Any], bool], float]] = []
    lower = upper = None
    for i in range(0, len(argument), 2):
        op, number = argument[i], argument[i + 1]
        if op not in _COMPARISONS:
            raise invalid_pattern(f"{path}[{i}]", f"unknown comparison {op!r}; use <, <=, =, >=, >")
        if not _is_number(number):
            raise invalid_pattern(f"{path}[{i + 1}]", f"{number!r} is not a number")
        if op == "=" and len(argument) != 2:
            raise invalid_pattern(path, "'=' cannot be combined with another comparison")
        if op in (">", ">="):
            if lower is not None:
                raise invalid_pattern(path, "two lower bounds")
            lower = number
        elif op in ("<", "<="):
            if upper is not None:
                raise invalid_pattern(path, "two upper bounds")
            upper = number
        tests.append((_COMPARISONS[op], number))
    if lower is not None and upper is not None and lower >= upper:
        raise invalid_pattern(path, f"the lower bound {lower} must be below the upper bound {upper}")
    frozen = tuple(tests)

    def numeric(value: Any) -> bool:
        kind = value.__class__
        if kind is not int and kind is not float:
            return False
        for compare, number in frozen:  # noqa: SIM110 (hot path: a loop beats a generator)
            if not compare(value, number):
                return False
        return True

    return numeric


def _compile_cidr(argument: Any, path: str) -> Predicate:
    text = _string_argument("cidr", argument, path)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise invalid_pattern(path, f"{text!r} is not a CIDR block ({exc})") from None

    def in_network(value: Any) -> bool:
        if value.__class__ is not str:
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return in_network


def _compile_anything_but(argument: Any, path: str) -> Predicate:
    if isinstance(argument, Mapping):
        if len(argument) != 1:
            raise invalid_pattern(path, "anything-but takes one of prefix, suffix, equals-ignore-case, wildcard")
        ((operator, inner),) = argument.items()
        if operator not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise invalid_pattern(
                _join(path, str(operator)),
                f"anything-but cannot wrap {operator!r}; use prefix, suffix, equals-ignore-case or wildcard",
            )
        if operator in ("prefix", "suffix") and not isinstance(inner, str):
            raise invalid_pattern(_join(path, operator), f"{operator} takes a string")
        positive = _compile_operator(operator, inner, _join(path, operator))
        # Negated string operators only speak about strings: a number is not "a string
        # without this prefix".
        return lambda v: v.__class__ is str and not positive(v)
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise invalid_pattern(path, "anything-but takes a value, a non-empty array or an operator object")
    strings: set[str] = set()
    numbers: set[float] = set()
    for i, value in enumerate(values):
        here = f"{path}[{i}]" if isinstance(argument, list) else path
        if isinstance(value, str):
            strings.add(value)
        elif _is_number(value):
            numbers.add(value)
        else:
            raise invalid_pattern(here, f"anything-but lists strings or numbers (got {value!r})")
    if strings and numbers:
        raise invalid_pattern(path, "anything-but lists only strings or only numbers, not both")
    frozen_strings, frozen_numbers = frozenset(strings), frozenset(numbers)

    def anything_but(value: Any) -> bool:
        kind = value.__class__
        if kind is str:
            return value not in frozen_strings
        if kind is int or kind is float:
            return value not in frozen_numbers
        return True  # null and booleans are "anything but" any listed string or number

    return anything_but


class PatternSet(Generic[K]):
    """Many compiled patterns, each under a key (a rule name); `matching(event)` lists the
    keys whose pattern matches, in insertion order. Immutable once built."""

    INDEXED_FIELDS = ("source", "detail-type")

    def __init__(self, items: Iterable[tuple[K, EventPattern]]) -> None:
        self._indexes: dict[str, dict[str, list[tuple[int, K, EventPattern]]]] = {
            name: {} for name in self.INDEXED_FIELDS
        }
        self._unindexed: list[tuple[int, K, EventPattern]] = []
        self._all: list[tuple[int, K, EventPattern]] = []
        for order, (key, pattern) in enumerate(items):
            entry = (order, key, pattern)
            self._all.append(entry)
            for name in self.INDEXED_FIELDS:
                values = pattern.required_values(name)
                if values is not None:
                    for value in values:
                        self._indexes[name].setdefault(value, []).append(entry)
                    break
            else:
                self._unindexed.append(entry)

    def __len__(self) -> int:
        return len(self._all)

    def candidates(self, event: Mapping[str, Any]) -> list[tuple[int, K, EventPattern]]:
        """The entries that could match `event` (a superset of the matches)."""
        found: list[tuple[int, K, EventPattern]] = []
        for name in self.INDEXED_FIELDS:
            value = event.get(name)
            if value is None:
                continue  # rules indexed on this field need a string here: none can match
            if value.__class__ is not str:
                # An event with an odd `source` (a list, say) might match any rule
                # indexed on it; fall back to trying everything.
                return self._all
            found.extend(self._indexes[name].get(value, ()))
        if not found:
            return self._unindexed
        found.extend(self._unindexed)
        found.sort(key=lambda entry: entry[0])
        return found

    def matching(self, event: Mapping[str, Any]) -> list[K]:
        return [key for _, key, pattern in self.candidates(event) if pattern.matches(event)]
