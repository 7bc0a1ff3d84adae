"""What FunctionPool and a function process (`podium.functions.runtime`) say over their pipes.

Each message is a frame: a 4-byte big-endian length, then that many bytes.

- Request (parent -> process): a pickled
  `(target, event, request_id, timeout, function_name, function_arn, memory_mb)`.
- Reply (process -> parent): a one-byte tag, the process's peak RSS in KiB (8 bytes,
  big-endian), then the result's JSON text (tag `OK`) or a pickled
  `(error_name, message, stack_trace)` (tag `ERROR`).

The result travels as the JSON text the process made of it, so the parent decodes it once, with
no pickle around it; and a process writes each reply in one system call.
"""

from __future__ import annotations

import json
import os
import resource
import struct
from collections.abc import Iterator
from typing import Any

OK = 0x6F  # b"o"
ERROR = 0x65  # b"e"
# A reply's tag and peak RSS, before its body.
REPLY_HEADER = 9
# A reply frame's length, tag and peak RSS; the peak RSS alone.
_REPLY_START = struct.Struct(">IBQ")
_RSS = struct.Struct(">Q")


def frame(message: bytes) -> bytes:
    return len(message).to_bytes(4, "big") + message


def reply(tag: int, body: bytes) -> bytes:
    """A reply frame, with this process's peak RSS."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _REPLY_START.pack(REPLY_HEADER + len(body), tag, rss) + body


def reply_rss_kb(body: bytes) -> int:
    rss: int = _RSS.unpack_from(body, 1)[0]
    return rss


# json.loads without its checks around the value (whitespace before and after it), which cost
# more than decoding a small result: an OK reply's text is json.dumps' own output, nothing else.
_decode_json = json.JSONDecoder().raw_decode


def reply_result(body: bytes) -> Any:
    """The result an OK reply carries."""
    return _decode_json(body[REPLY_HEADER:].decode("ascii"))[0]


def read_frames(fd: int) -> Iterator[bytes]:
    """The frames arriving on `fd` (their bodies), until its writer closes it. One `os.read`
    takes whatever is in the pipe: a request costs one system call, and requests queued
    together are read together. For a reader that owns the pipe; FunctionPool, whose callers
    poll the pipe, reads its replies with `_Worker.receive`."""
    buffer = b""
    while True:
        while len(buffer) >= 4:
            end = 4 + int.from_bytes(buffer[:4], "big")
            if len(buffer) < end:
                break
            yield buffer[4:end]
            buffer = buffer[end:]
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buffer += chunk


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
