from __future__ import annotations

import pytest

from podium.errors import ValidationError
from podium.ingest.streams.sequence import format_sequence, parse_sequence


def test_strings_sort_like_numbers() -> None:
    values = [0, 9, 10, 99, 12345678901234567890, 10**30]
    texts = [format_sequence(v) for v in values]
    assert sorted(texts) == texts
    assert [parse_sequence(t) for t in texts] == values


@pytest.mark.parametrize("bad", ["", "12a", "-1", "1" * 41])
def test_rejects_non_sequences(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_sequence(bad)
