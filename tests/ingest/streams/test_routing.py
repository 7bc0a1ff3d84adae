from __future__ import annotations

import pytest

from podium.errors import ValidationError
from podium.ingest.streams.routing import MAX_HASH_KEY, Router, even_ranges, hash_key

# MD5 digests from RFC 1321's test suite, read as big-endian 128-bit integers.
RFC1321 = {
    "a": 0x0CC175B9C0F1B6A831C399E269772661,
    "abc": 0x900150983CD24FB0D6963F7D28E17F72,
    "message digest": 0xF96B697D7CB7938D525A2F31AAF161D0,
}


def router(count: int) -> Router:
    return Router([(lo, hi, f"s{i}") for i, (lo, hi) in enumerate(even_ranges(count))])


def test_hash_key_is_md5_big_endian() -> None:
    for key, expected in RFC1321.items():
        assert hash_key(key) == expected


def test_even_ranges_match_kinesis_create_stream() -> None:
    # The ranges CreateStream gives a 3-shard stream.
    assert even_ranges(3) == [
        (0, 113427455640312821154458202477256070484),
        (113427455640312821154458202477256070485, 226854911280625642308916404954512140969),
        (226854911280625642308916404954512140970, MAX_HASH_KEY),
    ]
    assert even_ranges(2)[1] == (2**127, MAX_HASH_KEY)


def test_routes_known_keys_to_the_shard_containing_their_hash() -> None:
    four = router(4)  # boundaries at 0x40.., 0x80.., 0xc0..
    assert four.shard_for("a") == "s0"
    assert four.shard_for("abc") == "s2"
    assert four.shard_for("message digest") == "s3"
    two = router(2)
    assert [two.shard_for(k) for k in ("a", "abc", "message digest")] == ["s0", "s1", "s1"]


def test_explicit_hash_key_overrides_partition_key() -> None:
    four = router(4)
    assert four.shard_for("a", explicit_hash_key=str(2**127)) == "s2"
    assert four.shard_for("a", explicit_hash_key=str(MAX_HASH_KEY)) == "s3"
    assert four.shard_for("abc", explicit_hash_key="0") == "s0"
    with pytest.raises(ValidationError):
        four.shard_for("a", explicit_hash_key=str(MAX_HASH_KEY + 1))
    with pytest.raises(ValidationError):
        four.shard_for("a", explicit_hash_key="-1")


def test_router_rejects_gaps() -> None:
    with pytest.raises(ValueError):
        Router([(0, 10, "a"), (12, MAX_HASH_KEY, "b")])
    with pytest.raises(ValueError):
        Router([(0, 10, "a")])


def test_digest_routing_agrees_with_integer_routing_at_range_bounds() -> None:
    three = router(3)
    for lo, hi in even_ranges(3):
        for key in (lo, hi, max(lo - 1, 0), min(hi + 1, MAX_HASH_KEY)):
            assert three.shard_for_digest(key.to_bytes(16, "big")) == three.shard_for_hash(key)
