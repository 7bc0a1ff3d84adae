"""A recipe: an ordered, immutable list of transform steps, loaded from YAML or JSON.

Loading validates every step; a bad recipe is rejected before anything runs with a
`ValidationError` naming the step number (1-based), its op and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from podium.errors import ValidationError
from podium.prep.steps import OPS, Step


class Recipe(BaseModel):
    """A named sequence of steps; step numbers in messages are 1-based."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "recipe"
    description: str | None = None
    steps: tuple[Step, ...] = Field(default=())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _describe_error(raw_steps: list[Any], err: Any) -> str:
    loc = list(err.get("loc", ()))
    msg = err.get("msg", "invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        index = loc[1]
        raw = raw_steps[index] if index < len(raw_steps) else None
        op = raw.get("op") if isinstance(raw, dict) else None
        rest = [str(p) for p in loc[2:] if p != op]
        where = ".".join(rest)
        if err.get("type") == "union_tag_invalid" or (err.get("type") == "union_tag_not_found"):
            msg = f"unknown op {op!r}; known ops: {', '.join(OPS)}" if op else "missing 'op'"
        label = f"step {index + 1}" + (f" ({op})" if op else "")
        return f"{label}: {where + ': ' if where else ''}{msg}"
    where = ".".join(str(p) for p in loc)
    return f"{where + ': ' if where else ''}{msg}"


def parse_recipe(data: Any) -> Recipe:
    """Validate a recipe given as a dict ({name, steps}) or a bare list of steps."""
    if isinstance(data, list):
        data = {"steps": data}
    if not isinstance(data, dict):
        raise ValidationError("a recipe is a mapping with 'steps' or a list of steps")
    steps = data.get("steps")
    raw_steps: list[Any] = steps if isinstance(steps, list) else []
    try:
        return Recipe.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        reasons = [_describe_error(raw_steps, e) for e in errors]
        raise ValidationError(
            "invalid recipe: " + "; ".join(dict.fromkeys(reasons)),
            details={"errors": reasons},
        ) from None


def load_recipe(source: str | Path) -> Recipe:
    """Load a recipe from a .yaml/.yml/.json file path or from YAML/JSON text."""
    text: str
    path = Path(source) if not isinstance(source, str) or "\n" not in source else None
    if path is not None and path.suffix.lower() in (".yaml", ".yml", ".json"):
        if not path.exists():
            raise ValidationError(f"recipe file {path} does not exist")
        text = path.read_text(encoding="utf-8")
    else:
        text = str(source)
    try:
        data = json.loads(text) if text.lstrip().startswith(("{", "[")) else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(f"recipe is not valid YAML/JSON: {exc}") from None
    return parse_recipe(data)
