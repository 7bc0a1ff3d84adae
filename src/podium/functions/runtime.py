"""The loop a function worker subprocess runs: receive an invocation, call the handler, reply.

The messages are `podium.functions.protocol`'s. The result is serialised to JSON here, in the
child, so a handler returning something that is not JSON fails as `Runtime.MarshalError`
instead of breaking the parent.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from podium.functions.errors import IMPORT_ERROR, MARSHAL_ERROR
from podium.functions.protocol import ERROR, OK, read_frames, reply, write_all


class InvocationContext:
    """What a handler receives as `context`, shaped like Lambda's context object."""

    def __init__(self, function_name: str, function_arn: str, memory_mb: int, request_id: str,
                 timeout: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        # From when the invocation starts here: it may have waited in the pipe behind others.
        self._deadline = time.time() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _load(target: str, cache: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    handler = cache.get(target)
    if handler is None:
        module_name, _, attr = target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        # A decorated function is stored as itself; unwrap nothing.
        handler = obj
        cache[target] = handler
    return handler


def _error(name: str, message: str, stack: list[str]) -> bytes:
    return reply(ERROR, pickle.dumps((name, message, stack), pickle.HIGHEST_PROTOCOL))


def serve(requests: int, replies: int) -> None:
    """Answer invocations (file descriptors `requests` and `replies`) until the parent closes
    the request pipe."""
    cache: dict[str, Callable[..., Any]] = {}
    for message in read_frames(requests):
        target, event, request_id, timeout, name, arn, memory_mb = pickle.loads(message)
        try:
            handler = _load(target, cache)
        except Exception as exc:  # reported to the caller as Lambda does
            answer = _error(IMPORT_ERROR, f"cannot import {target!r}: {exc}", [])
        else:
            answer = _invoke(handler, event, InvocationContext(name, arn, memory_mb, request_id, timeout))
        write_all(replies, answer)


def _invoke(handler: Callable[..., Any], event: Any, context: InvocationContext) -> bytes:
    try:
        result = handler(event, context)
    except Exception as exc:  # the handler's failure becomes the ASL error
        # Drop this function's own frame: the trace starts in the handler, as Lambda's does.
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return _error(type(exc).__name__, str(exc), stack)
    try:
        # ASCII (json.dumps' default): the text's bytes are its characters.
        return reply(OK, json.dumps(result).encode("ascii"))
    except (TypeError, ValueError) as exc:
        return _error(MARSHAL_ERROR, f"result is not JSON: {exc}", [])


if __name__ == "__main__":
    # Started by FunctionPool as `python -m podium.functions.runtime <request fd> <reply fd>`.
    try:
        serve(int(sys.argv[1]), int(sys.argv[2]))
    except OSError:  # the worker that started us is gone (killed): nobody to answer
        sys.exit(0)
