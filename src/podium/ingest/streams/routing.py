"""Routing records to shards over the 128-bit hash key space, as Kinesis does.

A partition key is hashed with MD5, read as a big-endian unsigned 128-bit integer, and the
record goes to the open shard whose `[starting, ending]` hash key range contains it; an
explicit hash key (a decimal string) replaces the MD5. New streams split the space evenly:
shard i starts at `i * (2**128 // n)` and the last shard ends at `2**128 - 1`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from hashlib import md5

from podium.errors import ValidationError

MAX_HASH_KEY = 2**128 - 1


def hash_key(partition_key: str) -> int:
    """The 128-bit hash key Kinesis derives from a partition key."""
    return int.from_bytes(md5(partition_key.encode("utf-8")).digest(), "big")


def parse_explicit_hash_key(text: str) -> int:
    """An explicit hash key as an integer, checked against the 128-bit range."""
    if not isinstance(text, str) or not text.isdigit() or int(text) > MAX_HASH_KEY:
        raise ValidationError(
            f"explicit hash key '{text}' must be a decimal integer from 0 to 2**128 - 1",
            code="InvalidArgument",
        )
    return int(text)


def even_ranges(count: int, start: int = 0, end: int = MAX_HASH_KEY) -> list[tuple[int, int]]:
    """Split `[start, end]` into `count` contiguous ranges the way CreateStream does."""
    if count < 1:
        raise ValidationError(f"shard count must be at least 1, got {count}", code="InvalidArgument")
    width = (end - start + 1) // count
    ranges = []
    for i in range(count):
        lo = start + i * width
        hi = end if i == count - 1 else lo + width - 1
        ranges.append((lo, hi))
    return ranges


class Router:
    """Finds the open shard for a hash key; built once per version of a stream's shard map."""

    __slots__ = ("starts", "digest_starts", "shard_ids")

    def __init__(self, ranges: Sequence[tuple[int, int, str]]) -> None:
        ordered = sorted(ranges)
        expected = 0
        for lo, hi, shard_id in ordered:
            if lo != expected or hi < lo:
                raise ValueError(f"open shards do not cover the hash key space at {shard_id}")
            expected = hi + 1
        if expected != MAX_HASH_KEY + 1:
            raise ValueError("open shards do not reach the end of the hash key space")
        self.starts = [lo for lo, _, _ in ordered]
        # The same bounds as 16-byte big-endian strings: an MD5 digest compares against them
        # directly (bytes order = integer order at equal length), with no int conversion.
        self.digest_starts = [lo.to_bytes(16, "big") for lo in self.starts]
        self.shard_ids = [shard_id for _, _, shard_id in ordered]

    def shard_for_hash(self, key: int) -> str:
        return self.shard_ids[bisect_right(self.starts, key) - 1]

    def shard_for_digest(self, digest: bytes) -> str:
        """The shard for a 16-byte MD5 digest of a partition key."""
        return self.shard_ids[bisect_right(self.digest_starts, digest) - 1]

    def shard_for(self, partition_key: str, explicit_hash_key: str | None = None) -> str:
        if explicit_hash_key is not None:
            return self.shard_for_hash(parse_explicit_hash_key(explicit_hash_key))
        return self.shard_for_hash(hash_key(partition_key))
