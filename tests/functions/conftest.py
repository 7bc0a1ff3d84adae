"""A module of handlers on sys.path: functions run in subprocesses that import them by name."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HANDLERS = '''
import os, time

def double(event, context):
    return {"x": event["x"] * 2, "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(), "pid": os.getpid()}

def boom(event, context):
    raise KeyError("missing column")

def hang(event, context):
    time.sleep(60)

def die(event, context):
    os._exit(3)

def kill_self(event, context):
    os.kill(os.getpid(), 9)

def not_json(event, context):
    return {1, 2}

def leak(event, context):
    global HOARD
    HOARD = bytearray(200 * 1024 * 1024)
    HOARD[::4096] = b"x" * len(HOARD[::4096])
    return os.getpid()

def slow(event, context):
    time.sleep(event["seconds"])
    return time.time()
'''


@pytest.fixture
def handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"function_handlers_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(HANDLERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
