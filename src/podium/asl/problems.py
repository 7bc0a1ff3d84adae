"""Problems found in a state machine definition: a stable code, a JSON location, a message.

`podium.asl.validate` reports every problem it finds as a `Problem`; `PROBLEM_CODES`
describes each code once, for the CLI, the HTTP API and docs/workflows.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# code -> one-line description. Codes are stable: tools and tests match on them.
PROBLEM_CODES: dict[str, str] = {
    "PARSE_ERROR": "The text is neither valid JSON nor valid YAML.",
    "DUPLICATE_KEY": "A key appears twice in the same JSON object.",
    "INVALID_TYPE": "A field holds the wrong kind of JSON value (string, number, object, ...).",
    "INVALID_VALUE": "A field holds a value outside its allowed range or set.",
    "MISSING_FIELD": "A required field is absent.",
    "UNKNOWN_FIELD": "A field that is not part of the Amazon States Language at this place.",
    "ILLEGAL_FIELD": "A known field that this state type or field combination does not allow.",
    "MISSING_START_AT": "A state machine, Parallel branch or Map processor has no StartAt.",
    "UNKNOWN_START_AT": "StartAt names a state that does not exist in its States.",
    "UNKNOWN_NEXT_TARGET": "A Next, Default or Catch Next names a state that does not exist in the same scope.",
    "UNREACHABLE_STATE": "No transition leads to the state from StartAt (AWS: MISSING_TRANSITION_TARGET, 'State ... is not reachable').",
    "DUPLICATE_STATE_NAME": "A state name is used twice in the machine (state names are unique across Parallel branches and Map processors too).",
    "MISSING_END_STATE": "A States object has no terminal state (End: true, Succeed or Fail).",
    "INVALID_STATE_NAME": "A state name is empty or longer than 80 characters.",
    "INVALID_JSONPATH": "A path field or a '.$' value is not a valid JSONPath.",
    "INVALID_REFERENCE_PATH": "A field that must name a single node (ResultPath, ...) uses wildcards, filters, slices, a context or variable root.",
    "INVALID_INTRINSIC": "An intrinsic function call (States.Format(...), ...) is malformed, unknown or has wrong arguments.",
    "INVALID_JSONATA": "A '{% ... %}' expression is not valid JSONata.",
    "INVALID_CHOICE_RULE": "A choice rule does not have exactly one comparison operator or And/Or/Not.",
    "INVALID_VARIABLE_NAME": "An Assign key is not a valid workflow variable name.",
    "STATES_ALL_NOT_LAST": "A retrier or catcher using States.ALL is not the last one.",
    "STATES_ALL_NOT_ALONE": "States.ALL is combined with other error names in one ErrorEquals.",
    "QUERY_LANGUAGE_MISMATCH": "A JSONPath-only field in a JSONata state, a JSONata-only field in a JSONPath state, or a JSONPath state in a JSONata machine.",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition.

    `location` is a JSON pointer (RFC 6901) into the document, e.g.
    `/States/Check/Choices/2/Variable`; "" is the document itself.
    """

    code: str
    location: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "location": self.location, "message": self.message}

    def __str__(self) -> str:
        return f"{self.code} at {self.location or '/'}: {self.message}"


def pointer(*parts: str | int) -> str:
    """A JSON pointer from unescaped parts: pointer("States", "a/b") == "/States/a~1b"."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def child(location: str, *parts: str | int) -> str:
    """`location` extended by `parts` (each escaped as a pointer token)."""
    return location + pointer(*parts)
