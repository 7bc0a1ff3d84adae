"""Fixtures for engine tests: an Engine over each store, and a module of test handlers.

The handlers are written to a temporary directory put on sys.path, because functions run in
subprocesses that import them by "module:callable".
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.engine import Engine
from podium.functions import FunctionSpec
from podium.store import Store

HANDLERS = '''
import json, os, time
from pathlib import Path

def double(event, context):
    return {"x": event["x"] * 2}

def echo(event, context):
    return event

def boom(event, context):
    raise ValueError("bad input " + json.dumps(event, sort_keys=True))

def hang(event, context):
    time.sleep(60)

def die(event, context):
    os._exit(7)

def count(event, context):
    # Appends one line per invocation to event["log"] so tests can count calls.
    with open(event["log"], "a") as f:
        f.write(event.get("tag", "x") + "\\n")
    return {"tag": event.get("tag", "x")}

def fail_unless_flag(event, context):
    if not Path(event["flag"]).exists():
        raise RuntimeError("flag missing")
    return {"ok": True}
'''


@pytest.fixture
def handlers_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"engine_handlers_{uuid.uuid4().hex[:8]}"
    directory = tmp_path / "handlers"
    directory.mkdir()
    (directory / f"{name}.py").write_text(HANDLERS)
    monkeypatch.syspath_prepend(str(directory))
    yield name
    sys.modules.pop(name, None)


def add_functions(engine: Engine, module: str) -> None:
    for handler in ("double", "echo", "boom", "die", "count", "fail_unless_flag"):
        engine.functions.add(FunctionSpec(handler, f"{module}:{handler}", timeout_seconds=20))
    engine.functions.add(FunctionSpec("hang", f"{module}:hang", timeout_seconds=1))


@pytest.fixture
def engine(settings, any_store: Store, handlers_module: str) -> Iterator[Engine]:
    built = Engine(settings, any_store, function_pool_size=2)
    add_functions(built, handlers_module)
    yield built
    built.close()


@pytest.fixture
def sqlite_engine(settings, store: Store, handlers_module: str) -> Iterator[Engine]:
    built = Engine(settings, store, function_pool_size=2)
    add_functions(built, handlers_module)
    yield built
    built.close()
