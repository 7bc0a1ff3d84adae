"""Functions are registered from settings or with the decorator, with their limits."""

from __future__ import annotations

import types

import pytest

from podium.config import Settings
from podium.errors import NotFoundError, ValidationError
from podium.functions import FunctionRegistry, FunctionSpec, function


def test_from_settings(tmp_path) -> None:
    settings = Settings.for_home(tmp_path, functions={"score": "mypkg.jobs:score"})
    registry = FunctionRegistry.from_settings(settings)
    assert registry.get("score").target == "mypkg.jobs:score"
    assert registry.get("score").arn.endswith(":function:score")
    with pytest.raises(NotFoundError) as info:
        registry.get("train")
    assert "score" in info.value.message and info.value.code == "FunctionNotFound"


def test_decorator_marks_and_registry_collects() -> None:
    @function("scorer", timeout_seconds=5, memory_mb=256, concurrency=2)
    def score(event, context):
        """Score rows."""
        return event

    assert score({"a": 1}, None) == {"a": 1}  # still a plain callable
    module = types.ModuleType("fake_module")
    module.score = score
    registry = FunctionRegistry()
    (found,) = registry.add_decorated(module)
    assert (found.name, found.timeout_seconds, found.memory_mb, found.concurrency) == ("scorer", 5, 256, 2)
    assert found.description == "Score rows."
    assert "scorer" in registry
    renamed = registry.register(score, name="other")
    assert renamed.name == "other" and renamed.concurrency == 2


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ValidationError):
        FunctionSpec("f", "no_colon")
    with pytest.raises(ValidationError):
        FunctionSpec("f", "m:f", timeout_seconds=0)
    with pytest.raises(ValidationError):
        FunctionSpec("f", "m:f", concurrency=0)
