from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podium.errors import ValidationError
from podium.ingest.delivery.prefix import DEFAULT_ERROR_PREFIX, DEFAULT_PREFIX, compile_prefix

MOMENT = int(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp() * 1000)


def test_default_prefix_is_utc_hours() -> None:
    assert compile_prefix(DEFAULT_PREFIX).render(MOMENT) == "2026/03/04/05/"
    assert (
        compile_prefix(DEFAULT_ERROR_PREFIX, errors=True).render(MOMENT, error_type="processing-failed")
        == "errors/processing-failed/2026/03/04/05/"
    )


def test_partition_keys_and_patterns() -> None:
    prefix = compile_prefix(
        "c=!{partitionKeyFromQuery:customer}/d=!{timestamp:yyyy-MM-dd}/", partition_keys={"customer"}
    )
    assert prefix.render(MOMENT, {"customer": "7"}) == "c=7/d=2026-03-04/"


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("!{partitionKeyFromQuery:nope}/", {"customer"}),
        ("x/", {"customer"}),  # a partition key the prefix never uses
        ("!{timestamp:yyyy-QQ}/", set()),
        ("!{unknown:x}/", set()),
        ("!{firehose:error-output-type}/", set()),
        ("!{timestamp:yyyy/", set()),
    ],
)
def test_bad_prefixes(text: str, keys: set[str]) -> None:
    with pytest.raises(ValidationError):
        compile_prefix(text, partition_keys=keys)
