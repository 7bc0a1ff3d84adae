"""The payload size limit: how big a state's input, result or output may be.

API:
    MAX_PAYLOAD_BYTES = 262_144          -- AWS's quota (256 KiB of UTF-8 JSON).
    exact_size(value) -> int             -- the UTF-8 byte length of `value` as compact JSON.
    size_bound(value) -> int             -- an upper bound of exact_size(value): computed from
        the value's shape without serialising it when it is small (a few dozen keys or items,
        short strings, shallow nesting), else exact_size(value). Cheap enough to call on
        every state transition.
    merged_bound(input_bound, result_bound, path_text) -> int
        An upper bound of the size of `input` once a result is written into it at a
        ResultPath: what was there is replaced, and at most the path's keys are added.

The step function keeps, for each frame, an upper bound of its current input's size and
only serialises a value when the bound passes the limit, so a long chain of small states
measures nothing and a payload near the limit is measured exactly.
"""

from __future__ import annotations

import json
from typing import Any

MAX_PAYLOAD_BYTES = 262_144

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

# Beyond these a value is serialised instead of estimated.
_MAX_STRING = 2048
_MAX_ENTRIES = 32
_MAX_DEPTH = 4
_INT_LIMIT = 1 << 63


def exact_size(value: Any) -> int:
    return len(_ENCODE(value).encode("utf-8", "surrogatepass"))


def size_bound(value: Any) -> int:
    bound = _quick_bound(value, 0)
    return bound if bound is not None else exact_size(value)


def merged_bound(input_bound: int, result_bound: int, path_text: str) -> int:
    # Each path segment may create a key ("name":{...},) of at most 6 bytes per character
    # (a \uXXXX escape) plus punctuation; 8 bytes per character of the path covers both.
    return input_bound + result_bound + 8 * len(path_text) + 16


def _quick_bound(value: Any, depth: int) -> int | None:
    kind = type(value)
    if kind is str:
        n = len(value)
        # A character takes at most 6 bytes in JSON (\uXXXX), plus the two quotes.
        return 6 * n + 2 if n <= _MAX_STRING else None
    if kind is int:
        return 21 if -_INT_LIMIT < value < _INT_LIMIT else None
    if kind is float:
        return 26
    if kind is bool or value is None:
        return 5
    if depth >= _MAX_DEPTH:
        return None
    if kind is dict:
        if len(value) > _MAX_ENTRIES:
            return None
        total = 2
        for key, item in value.items():
            if type(key) is not str or len(key) > _MAX_STRING:
                return None
            bound = _quick_bound(item, depth + 1)
            if bound is None:
                return None
            total += 6 * len(key) + 4 + bound
        return total
    if kind is list:
        if len(value) > _MAX_ENTRIES:
            return None
        total = 2
        for item in value:
            bound = _quick_bound(item, depth + 1)
            if bound is None:
                return None
            total += bound + 1
        return total
    return None
