from __future__ import annotations

import pytest

from podium.errors import ValidationError
from podium.ingest.streams.iterators import IteratorType, ShardPosition


def test_round_trip_and_expiry() -> None:
    token = ShardPosition("s", "shardId-000000000001", 42, 1000).encode()
    assert ShardPosition.decode(token, 2000, 300_000) == ShardPosition(
        "s", "shardId-000000000001", 42, 1000
    )
    with pytest.raises(ValidationError) as info:
        ShardPosition.decode(token, 1000 + 300_001, 300_000)
    assert info.value.code == "ExpiredIterator"
    assert ShardPosition.decode(token, 10**12, None).position == 42


@pytest.mark.parametrize("token", ["", "garbage", "WzIsInMiXQ=="])
def test_foreign_tokens_are_rejected(token: str) -> None:
    with pytest.raises(ValidationError):
        ShardPosition.decode(token, 0, None)


def test_iterator_type_parse() -> None:
    assert IteratorType.parse("LATEST") is IteratorType.LATEST
    with pytest.raises(ValidationError, match="TRIM_HORIZON"):
        IteratorType.parse("OLDEST")
