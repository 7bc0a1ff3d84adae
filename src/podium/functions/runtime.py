"""The loop a function worker subprocess runs: receive an invocation, call the handler, reply.

Messages on the pipe are tuples. In: `(target, event, context)`. Out:
`("ok", result_json, max_rss_kb)` or `("error", error_name, message, stack_trace, max_rss_kb)`.
The result is serialised to JSON here, in the child, so a handler returning something that is
not JSON fails as `Runtime.MarshalError` instead of breaking the parent.
"""

from __future__ import annotations

import importlib
import json
import pickle
import resource
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from podium.functions.errors import IMPORT_ERROR, MARSHAL_ERROR


class InvocationContext:
    """What a handler receives as `context`, shaped like Lambda's context object."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = "$LATEST"
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = fields["memory_limit_in_mb"]
        self.aws_request_id: str = fields["aws_request_id"]
        # From when the invocation starts here: it may have waited in the pipe behind others.
        timeout = fields.get("timeout")
        self._deadline: float = fields["deadline"] if timeout is None else time.time() + timeout

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


def _max_rss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def serve(requests: Connection, replies: Connection) -> None:
    """Answer invocations until the parent closes the pipe."""
    connection = _Duplex(requests, replies)
    cache: dict[str, Callable[..., Any]] = {}
    while True:
        try:
            target, event, context_fields = connection.recv()
        except (EOFError, OSError):
            return
        try:
            handler = _load(target, cache)
        except Exception as exc:  # reported to the caller as Lambda does
            connection.send(("error", IMPORT_ERROR, f"cannot import {target!r}: {exc}", [], _max_rss_kb()))
            continue
        try:
            result = handler(event, InvocationContext(context_fields))
        except Exception as exc:  # the handler's failure becomes the ASL error
            # Drop this loop's own frame: the trace starts in the handler, as Lambda's does.
            stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
            connection.send(("error", type(exc).__name__, str(exc), stack, _max_rss_kb()))
            continue
        try:
            text = json.dumps(result)
        except (TypeError, ValueError) as exc:
            connection.send(("error", MARSHAL_ERROR, f"result is not JSON: {exc}", [], _max_rss_kb()))
            continue
        connection.send(("ok", text, _max_rss_kb()))


class _Duplex:
    def __init__(self, requests: Connection, replies: Connection) -> None:
        self.recv = requests.recv
        self._send_bytes = replies.send_bytes

    def send(self, reply: tuple[Any, ...]) -> None:
        # The C pickler: Connection.send's ForkingPickler costs six times more for a reply
        # (plain strings and numbers), which is on every Task's path; `recv` reads either.
        self._send_bytes(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    # Started by FunctionPool as `python -m podium.functions.runtime <request fd> <reply fd>`.
    try:
        serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
    except BrokenPipeError:  # the worker that started us is gone (killed): nobody to answer
        sys.exit(0)
