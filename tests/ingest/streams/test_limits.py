from __future__ import annotations

import pytest

from podium.errors import ValidationError
from podium.ingest.streams.limits import StreamLimits


def test_record_problems_name_the_limit() -> None:
    limits = StreamLimits()
    assert limits.record_problem(b"x", "k") is None
    assert "1 to 256" in (limits.record_problem(b"x", "") or "")
    assert "1 to 256" in (limits.record_problem(b"x", "k" * 257) or "")
    assert limits.record_problem(b"x", "k" * 256) is None
    # The 1 MiB limit counts the partition key too.
    assert limits.record_problem(b"x" * (1024 * 1024 - 1), "k") is None
    assert "max_record_bytes" in (limits.record_problem(b"x" * (1024 * 1024), "k") or "")
    assert "bytes" in (limits.record_problem("text", "k") or "")


def test_limits_are_settings() -> None:
    small = StreamLimits(max_record_bytes=10, max_batch_records=2)
    assert small.record_problem(b"x" * 10, "k") is not None
    with pytest.raises(ValidationError, match="limit is 2"):
        small.check_batch(3, 3)
    with pytest.raises(ValidationError):
        StreamLimits().check_batch(0, 0)
    with pytest.raises(ValidationError):
        StreamLimits().check_batch(501, 501)
