from __future__ import annotations

import pytest

from podium.errors import ValidationError
from podium.ingest.delivery.query import QueryMiss, compile_query


def test_field_paths() -> None:
    doc = {"customer": {"id": 42, "tags": ["a", "b"]}, "odd key": True, "region": "eu"}
    assert compile_query(".customer.id").evaluate(doc) == "42"
    assert compile_query(".customer.tags[1]").evaluate(doc) == "b"
    assert compile_query('."odd key"').evaluate(doc) == "true"
    assert compile_query(".region").evaluate(doc) == "eu"
    for missing in (".customer.name", ".customer.tags[5]", ".region.x", ".customer"):
        with pytest.raises(QueryMiss):
            compile_query(missing).evaluate(doc)


@pytest.mark.parametrize("bad", ["", "customer", ".a..b", ".a[x]", ".a | b"])
def test_unsupported_queries_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        compile_query(bad)
