"""Shard iterators: where a reader is in a shard, as an opaque string.

A token carries the stream, the shard, the next position to read (a backend sequence
integer) and when it was issued, so that it can expire like Kinesis's (after five minutes by
default). It is base64 of a small JSON array: opaque to callers, easy to debug.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from enum import StrEnum

from podium.errors import ValidationError


class IteratorType(StrEnum):
    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"
    AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"
    AFTER_SEQUENCE_NUMBER = "AFTER_SEQUENCE_NUMBER"
    AT_TIMESTAMP = "AT_TIMESTAMP"

    @classmethod
    def parse(cls, text: str | IteratorType) -> IteratorType:
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(t.value for t in cls)
            raise ValidationError(
                f"unknown shard iterator type '{text}'; use one of {names}",
                code="InvalidArgument",
            ) from None


@dataclass(frozen=True)
class ShardPosition:
    stream: str
    shard_id: str
    position: int
    issued_ms: int

    def encode(self) -> str:
        raw = json.dumps([1, self.stream, self.shard_id, self.position, self.issued_ms])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, token: str, now_ms: int, ttl_ms: int | None) -> ShardPosition:
        try:
            version, stream, shard_id, position, issued = json.loads(
                base64.urlsafe_b64decode(token.encode())
            )
            if version != 1:
                raise ValueError(version)
            pos = cls(str(stream), str(shard_id), int(position), int(issued))
        except (ValueError, TypeError, binascii.Error, UnicodeError):
            raise ValidationError(
                "the shard iterator is not one this service issued; get a new one with "
                "get_shard_iterator",
                code="InvalidArgument",
            ) from None
        if ttl_ms is not None and now_ms - pos.issued_ms > ttl_ms:
            raise ValidationError(
                f"the shard iterator for {pos.stream}/{pos.shard_id} expired "
                f"({(now_ms - pos.issued_ms) // 1000} s old, limit {ttl_ms // 1000} s); get a new "
                "one with get_shard_iterator",
                code="ExpiredIterator",
            )
        return pos
