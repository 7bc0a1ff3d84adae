"""Run the recorded AWS conformance cases (../shared/conformance/asl) against podium.asl.

Shared by tests/asl/test_conformance.py and scripts/asl_conformance.py. The comparison rules
are those of the corpus README: status equal; outputs deep-equal as decoded JSON (1 == 1.0,
booleans are not numbers); error and cause equal (a cause recorded as an object compared after
decoding); a `<...>` placeholder or a volatile value inside an expected string matches any
text, and an expected value that is only such a token matches any value.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from podium.asl import execute
from podium.asl.runner import VirtualClock
from podium.asl.timestamps import parse_timestamp

CASES_DIR = Path(__file__).parents[2].parent / "shared/conformance/asl"

# Sources of the Lambda handlers the recorded cases call, as AWS ran them (the stack trace
# in a failure's cause quotes file, line and source text).
_HANDLER_SOURCES = {
    "raise_exception.py": 'def handler(event, context):\n    raise Exception("Some exception was raised.")\n',
    "raise_custom_exception.py": (
        "class CustomException(Exception):\n"
        '    message: str\n'
        "\n"
        "    def __init__(self):\n"
        '        self.message = ""\n'
        "\n"
        "\n"
        "def handler(event, context):\n"
        "    raise CustomException()\n"
    ),
}
_TASK_FILE = "/var/task/handler.py"


@dataclass
class Outcome:
    case_id: str
    passed: bool
    reason: str
    features: list[str]


def load_cases() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(CASES_DIR.glob("*.json"))]


def _raising_handler(spec: dict[str, Any]) -> Callable[[Any, Any], Any]:
    base = spec.get("handler", "").rsplit("/", 1)[-1]
    source = _HANDLER_SOURCES.get(base)
    if source is None:
        error_type, message = spec["errorType"], spec.get("errorMessage", "")
        header = "" if error_type in dir(__builtins__) or error_type == "Exception" else f"class {error_type}(Exception):\n    pass\n\n\n"
        source = header + f"def handler(event, context):\n    raise {error_type}({json.dumps(message)})\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, _TASK_FILE, "exec"), namespace)  # noqa: S102 - fixture handlers
    linecache.cache[_TASK_FILE] = (len(source), None, source.splitlines(True), _TASK_FILE)
    handler: Callable[[Any, Any], Any] = namespace["handler"]
    return handler


def build_functions(case: dict[str, Any]) -> dict[str, Callable[[Any, Any], Any]]:
    functions: dict[str, Callable[[Any, Any], Any]] = {}
    for name, spec in (case.get("task_stub") or {}).get("functions", {}).items():
        behaviour = spec["behaviour"]
        if behaviour == "identity":
            functions[name] = lambda event, context: event
        elif behaviour == "constant":
            value = spec.get("returns")
            functions[name] = lambda event, context, value=value: value
        elif behaviour == "raise":
            functions[name] = _raising_handler(spec)
    return functions


def _tokens(case: dict[str, Any]) -> list[str]:
    tokens = [str(v) for v in case.get("volatile_values") or [] if str(v)]
    tokens += [str(p) for p in case.get("placeholders") or [] if str(p)]
    return sorted(set(tokens), key=len, reverse=True)


_PLACEHOLDER = re.compile(r"<[^<>\s]+>")


def _pattern(expected: str, tokens: list[str]) -> re.Pattern[str] | None:
    spans: list[tuple[int, int]] = [m.span() for m in _PLACEHOLDER.finditer(expected)]
    for token in tokens:
        start = 0
        while (i := expected.find(token, start)) >= 0:
            spans.append((i, i + len(token)))
            start = i + len(token)
    if not spans:
        return None
    spans.sort()
    parts, pos = [], 0
    for a, b in spans:
        if a < pos:
            pos = max(pos, b)
            continue
        parts.append(re.escape(expected[pos:a]))
        parts.append(".*?")
        pos = b
    parts.append(re.escape(expected[pos:]))
    return re.compile("".join(parts), re.DOTALL)


def matches(expected: Any, actual: Any, tokens: list[str]) -> bool:
    if isinstance(expected, str):
        if expected in tokens or (_PLACEHOLDER.fullmatch(expected) is not None):
            return True
        if not isinstance(actual, str):
            return False
        if expected == actual:
            return True
        pat = _pattern(expected, tokens)
        return pat is not None and pat.fullmatch(actual) is not None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)):
        return isinstance(actual, (int, float)) and expected == actual
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            matches(e, a, tokens) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            matches(v, actual[k], tokens) for k, v in expected.items())
    return expected == actual


def run_case(case: dict[str, Any]) -> Outcome:
    features = list(case.get("features") or [])
    start = parse_timestamp(case["input_computed_at"]) if case.get("input_computed_at") else None
    clock = VirtualClock(start or datetime.now(UTC))
    try:
        result = execute(case["definition"], case["input"], functions=build_functions(case), clock=clock)
    except Exception as exc:  # noqa: BLE001 - a crash is a failed case with its reason
        return Outcome(case["id"], False, f"raised {type(exc).__name__}: {exc}", features)
    expected = case["expected"]
    tokens = _tokens(case)
    if result.status != expected["status"]:
        detail = f"{result.error}: {result.cause}" if result.status != "SUCCEEDED" else json.dumps(result.output)[:200]
        return Outcome(case["id"], False, f"status {result.status} != {expected['status']} ({detail})", features)
    if expected["status"] == "SUCCEEDED":
        if not matches(expected.get("output"), result.output, tokens):
            return Outcome(case["id"], False, f"output {json.dumps(result.output)[:300]} != {json.dumps(expected.get('output'))[:300]}", features)
        return Outcome(case["id"], True, "", features)
    if "error" in expected and not matches(expected.get("error"), result.error, tokens):
        return Outcome(case["id"], False, f"error {result.error!r} != {expected.get('error')!r}", features)
    if "cause" in expected:
        want, got = expected.get("cause"), result.cause
        if isinstance(want, (dict, list)) and isinstance(got, str):
            with contextlib.suppress(ValueError):
                got = json.loads(got)
        if not matches(want, got, tokens):
            return Outcome(case["id"], False, f"cause {got!r} != {want!r}", features)
    return Outcome(case["id"], True, "", features)
