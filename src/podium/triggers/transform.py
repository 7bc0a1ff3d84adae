"""What a rule target receives: the whole event, a constant input, a part of the event
(`input_path`), or an input transformer (input paths map + template), as in EventBridge.

Paths are the simple JSONPath EventBridge accepts: `$`, `.name`, `['name']`, `[0]`.
In a template, `<name>` is replaced by the value its path selects: inside a JSON string
the raw text is inserted (escaped); elsewhere the JSON value; a template that is not
JSON at all is plain text and takes raw text everywhere. A path that selects nothing
gives `null` (empty text inside a string). The predefined `<aws.events.rule-name>`,
`<aws.events.event>`, `<aws.events.event.json>` and `<aws.events.event.ingestion-time>`
are available too. A result that parses as JSON is delivered as JSON, else as a string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.errors import ValidationError

MAX_INPUT_PATHS = 100
_STEP_RE = re.compile(r"\.([A-Za-z0-9_@$-]+)|\['([^']*)'\]|\[(\d+)\]")
_VARIABLE_RE = re.compile(r"<([A-Za-z0-9_.-]+)>")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_MISSING = object()


def _invalid(field: str, reason: str) -> ValidationError:
    return ValidationError(
        f"invalid rule target input: {field}: {reason}",
        code="InvalidTargetInput",
        details={"field": field, "reason": reason},
    )


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str, field: str) -> JsonPath:
        if not isinstance(text, str) or not text.startswith("$"):
            raise _invalid(field, f"a path starts with '$' (got {text!r})")
        steps: list[str | int] = []
        position = 1
        while position < len(text):
            match = _STEP_RE.match(text, position)
            if match is None:
                raise _invalid(field, f"cannot read {text!r} from position {position}")
            name, quoted, index = match.groups()
            steps.append(int(index) if index is not None else (name if name is not None else quoted))
            position = match.end()
        return cls(text, tuple(steps))

    def select(self, document: Any) -> Any:
        """The value at this path, or the module's missing marker."""
        value = document
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(value, list) or step >= len(value):
                    return _MISSING
                value = value[step]
            else:
                if not isinstance(value, Mapping) or step not in value:
                    return _MISSING
                value = value[step]
        return value


@dataclass(frozen=True)
class TargetInput:
    """Compiled input settings of one rule target; at most one of the three is set."""

    constant: Any = _MISSING
    path: JsonPath | None = None
    paths_map: tuple[tuple[str, JsonPath], ...] = ()
    template: str | None = None

    @classmethod
    def create(
        cls,
        *,
        input: Any = _MISSING,
        input_path: str | None = None,
        input_transformer: Mapping[str, Any] | None = None,
    ) -> TargetInput:
        given = [input is not _MISSING, input_path is not None, input_transformer is not None]
        if sum(given) > 1:
            raise _invalid("input", "set at most one of input, input_path and input_transformer")
        if input_path is not None:
            return cls(path=JsonPath.parse(input_path, "input_path"))
        if input_transformer is not None:
            return cls._transformer(input_transformer)
        return cls(constant=input)

    @classmethod
    def _transformer(cls, spec: Mapping[str, Any]) -> TargetInput:
        if not isinstance(spec, Mapping) or "input_template" not in spec:
            raise _invalid("input_transformer", "needs input_template (and optional input_paths_map)")
        unknown = set(spec) - {"input_template", "input_paths_map"}
        if unknown:
            raise _invalid("input_transformer", f"unknown keys {sorted(unknown)}")
        template = spec["input_template"]
        if not isinstance(template, str):
            raise _invalid("input_transformer.input_template", "must be a string")
        paths = spec.get("input_paths_map") or {}
        if not isinstance(paths, Mapping) or len(paths) > MAX_INPUT_PATHS:
            raise _invalid(
                "input_transformer.input_paths_map",
                f"must map up to {MAX_INPUT_PATHS} names to paths",
            )
        compiled = []
        for name, path in paths.items():
            field = f"input_transformer.input_paths_map.{name}"
            if not _NAME_RE.match(str(name)) or str(name).startswith("aws."):
                raise _invalid(field, "names are letters, digits, '-' and '_' (not 'aws.')")
            compiled.append((name, JsonPath.parse(path, field)))
        known = {name for name, _ in compiled} | _PREDEFINED
        for variable in _VARIABLE_RE.findall(template):
            if variable not in known:
                raise _invalid(
                    "input_transformer.input_template",
                    f"<{variable}> is not in input_paths_map",
                )
        return cls(paths_map=tuple(compiled), template=template)

    def to_dict(self) -> dict[str, Any]:
        if self.path is not None:
            return {"input_path": self.path.text}
        if self.template is not None:
            return {
                "input_transformer": {
                    "input_paths_map": {name: path.text for name, path in self.paths_map},
                    "input_template": self.template,
                }
            }
        return {} if self.constant is _MISSING else {"input": self.constant}

    def render(self, event: Mapping[str, Any], *, rule_name: str, ingestion_time: str) -> Any:
        """The payload the target receives for `event`."""
        if self.path is not None:
            value = self.path.select(event)
            return None if value is _MISSING else value
        if self.template is None:
            return dict(event) if self.constant is _MISSING else self.constant
        values = {name: path.select(event) for name, path in self.paths_map}
        values["aws.events.rule-name"] = rule_name
        values["aws.events.event"] = dict(event)
        values["aws.events.event.json"] = dict(event)
        values["aws.events.event.ingestion-time"] = ingestion_time
        text = _fill(self.template, values)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


_PREDEFINED = frozenset(
    {
        "aws.events.rule-name",
        "aws.events.event",
        "aws.events.event.json",
        "aws.events.event.ingestion-time",
    }
)


def _fill(template: str, values: Mapping[str, Any]) -> str:
    if template.lstrip()[:1] not in ("{", "[", '"'):
        # A plain-text template ("new file <key>") takes every value as raw text.
        return _VARIABLE_RE.sub(lambda m: _as_text(values.get(m.group(1), _MISSING)), template)
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "<":
            match = _VARIABLE_RE.match(template, position)
            if match and match.group(1) in values:
                value = values[match.group(1)]
                if in_string:
                    out.append(json.dumps(_as_text(value))[1:-1])  # escaped, without quotes
                else:
                    out.append("null" if value is _MISSING else json.dumps(value))
                position = match.end()
                continue
        out.append(char)
        position += 1
    return "".join(out)


def _as_text(value: Any) -> str:
    if value is _MISSING:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
