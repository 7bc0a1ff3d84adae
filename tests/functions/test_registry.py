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


def test_functions_in_podium_toml_take_their_limits_as_a_table(tmp_path) -> None:
    from podium.config import load_settings

    (tmp_path / "podium.toml").write_text(
        '[functions]\n'
        'score = "mypkg.jobs:score"\n'
        '[functions.train]\n'
        'handler = "mypkg.jobs:train"\n'
        'timeout_seconds = 900\n'
        'memory_mb = 4096\n'
        'concurrency = 2\n'
        'description = "Fit the nightly model"\n'
    )
    settings = load_settings(tmp_path, environ={})
    registry = FunctionRegistry.from_settings(settings)
    train = registry.get("train")
    assert (train.target, train.timeout_seconds, train.memory_mb, train.concurrency) == (
        "mypkg.jobs:train", 900.0, 4096, 2)
    assert train.description == "Fit the nightly model"
    score = registry.get("score")
    assert (score.timeout_seconds, score.memory_mb, score.concurrency) == (60.0, 1024, None)
    assert settings.function_targets == {"score": "mypkg.jobs:score", "train": "mypkg.jobs:train"}


@pytest.mark.parametrize(("table", "message"), [
    ('handler = "m:f"\ntimout_seconds = 5\n', "unknown key 'timout_seconds'"),
    ('timeout_seconds = 5\n', "needs handler"),
    ('handler = "m:f"\ntimeout_seconds = 0\n', "timeout_seconds must be a number of seconds > 0"),
    ('handler = "m:f"\ntimeout_seconds = "5"\n', "timeout_seconds must be"),
    ('handler = "m:f"\nmemory_mb = 1.5\n', "memory_mb must be a whole number"),
    ('handler = "m:f"\nconcurrency = 0\n', "concurrency must be a whole number >= 1"),
    ('handler = "m:f"\nconcurrency = true\n', "concurrency must be"),
    ('handler = "no_colon"\n', "module.path:callable"),
    ('handler = 3\n', "handler must be"),
])
def test_a_bad_function_table_is_a_config_error_naming_function_and_key(tmp_path, table, message) -> None:
    from podium.config import load_settings
    from podium.errors import ConfigError

    (tmp_path / "podium.toml").write_text("[functions.train]\n" + table)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    assert "train" in info.value.message and message in info.value.message
    assert "podium.toml" in info.value.message


def test_a_function_entry_of_another_type_is_rejected(tmp_path) -> None:
    from podium.config import load_settings
    from podium.errors import ConfigError

    (tmp_path / "podium.toml").write_text("[functions]\ntrain = 3\n")
    with pytest.raises(ConfigError, match="train"):
        load_settings(tmp_path, environ={})
