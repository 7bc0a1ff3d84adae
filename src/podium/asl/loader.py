"""Reading state machine definitions from JSON or YAML text, with line numbers.

    load_definition_text(text) -> Any          # parse JSON, else YAML; duplicate keys rejected
    load_definition_file(path) -> Any
    line_index(text) -> dict[str, int]         # JSON pointer -> 1-based line of that value

Parse failures raise podium.errors.ValidationError with code PARSE_ERROR (or DUPLICATE_KEY)
and a message that names the line and column, so a user can go straight to the mistake.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from podium.asl.problems import child
from podium.errors import NotFoundError, ValidationError

__all__ = ["line_index", "load_definition_file", "load_definition_text"]


class _AslLoader(yaml.SafeLoader):
    """SafeLoader without YAML's implicit timestamps: ASL values are JSON, so
    `Timestamp: 2016-03-14T01:59:00Z` must stay the string AWS would see."""


_AslLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith(("{", "["))


def load_definition_text(text: str, *, source: str = "definition") -> Any:
    """Parse a definition written as JSON or YAML (JSON first: it is what AWS stores)."""
    if _looks_like_json(text):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except _DuplicateKey as exc:
            # json does not say where; find the line of the second occurrence in the text.
            raise ValidationError(
                f"{source}: the key '{exc.key}' appears twice in one object{_second_line(text, exc.key)}",
                code="DUPLICATE_KEY",
            ) from None
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                code="PARSE_ERROR",
            ) from None
    try:
        node = yaml.compose(text, Loader=_AslLoader)
        _check_yaml_duplicates(node, source)
        return yaml.load(text, Loader=_AslLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValidationError(f"{source}: invalid YAML{where}: {exc.problem or exc}", code="PARSE_ERROR") from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: invalid YAML: {exc}", code="PARSE_ERROR") from None


def load_definition_file(path: str | Path) -> Any:
    """Read and parse a .json / .yaml / .yml definition file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no definition file at {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {file}: {exc}", code="PARSE_ERROR") from None
    return load_definition_text(text, source=str(file))


def _second_line(text: str, key: str) -> str:
    needle = json.dumps(key)
    first = text.find(needle)
    second = text.find(needle, first + 1) if first >= 0 else -1
    return f" (line {text.count(chr(10), 0, second) + 1})" if second >= 0 else ""


def _check_yaml_duplicates(node: yaml.Node | None, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ValidationError(
                    f"{source}: the key '{key}' appears twice in one mapping (line {key_node.start_mark.line + 1})",
                    code="DUPLICATE_KEY",
                )
            seen.add(key)
            _check_yaml_duplicates(value_node, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_yaml_duplicates(item, source)


def line_index(text: str) -> dict[str, int]:
    """JSON pointer of every value in `text` -> its 1-based line; {} when the text does not parse.

    YAML is a superset of JSON for what definitions contain, so one walk of the YAML node tree
    serves both formats. For a mapping entry the line is that of its key.
    """
    try:
        root = yaml.compose(text, Loader=_AslLoader)
    except yaml.YAMLError:
        return {}
    index: dict[str, int] = {}

    def walk(node: yaml.Node, loc: str, line: int) -> None:
        index[loc] = line
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                walk(value_node, child(loc, str(key_node.value)), key_node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, child(loc, i), item.start_mark.line + 1)

    if root is not None:
        walk(root, "", root.start_mark.line + 1)
    return index
