"""Ingestion input checks: types cast safely, mismatches named by column and row."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from podium.errors import ValidationError
from podium.features import define_group
from podium.features.records import conform, to_arrow

GROUP = define_group(
    "g", record_identifiers="id", event_time="ts",
    features={"id": "string", "ts": "timestamp", "n": "int64", "x": "float64", "ok": "bool"},
)


def typed(data: object) -> pa.Table:
    return conform(GROUP, to_arrow(data, "g"))


def test_types_are_cast_to_the_declared_ones() -> None:
    table = typed(pd.DataFrame({"id": ["a", "b"], "ts": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00.5Z"],
                                "n": [1.0, None], "x": [1, 2]}))
    assert table.schema.field("n").type == pa.int64()
    assert table.column("n").to_pylist() == [1, None]
    assert table.column("x").to_pylist() == [1.0, 2.0]
    assert table.column("ok").null_count == 2  # missing value features are null
    assert table.column("ts").to_pylist()[1] == datetime(2024, 1, 2, 0, 0, 0, 500000, tzinfo=UTC)


def test_epoch_seconds_and_naive_timestamps_are_utc() -> None:
    table = typed([{"id": "a", "ts": 1704067200.25}])
    assert table.column("ts").to_pylist() == [datetime(2024, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)]
    table = typed(pa.table({"id": ["a"], "ts": pa.array([datetime(2024, 1, 1)])}))
    assert table.column("ts").to_pylist() == [datetime(2024, 1, 1, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("data", "column", "row"),
    [
        ({"id": ["a", "b", "c"], "ts": ["2024-01-01"] * 3, "n": [1, 2.5, 3]}, "n", 1),
        ({"id": ["a", "b"], "ts": ["2024-01-01"] * 2, "x": ["1.0", "2"]}, "x", 0),
        ({"id": ["a", "b"], "ts": ["2024-01-01", "yesterday"]}, "ts", 1),
        ({"id": ["a", None], "ts": ["2024-01-01"] * 2}, "id", 1),
        ({"id": ["a", "b"], "ts": ["2024-01-01"] * 2, "ok": [True, 1]}, "ok", 1),
    ],
)
def test_mismatches_name_column_and_row(data: dict, column: str, row: int) -> None:
    records = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    with pytest.raises(ValidationError) as caught:
        typed(records)
    assert caught.value.details["column"] == column
    assert caught.value.details["row"] == row
    assert f"'{column}' row {row}" in caught.value.message


def test_bool_is_not_an_int_and_unknown_columns_are_rejected() -> None:
    with pytest.raises(ValidationError, match="'n' row 0"):
        typed(pa.table({"id": ["a"], "ts": ["2024-01-01"], "n": [True]}))
    with pytest.raises(ValidationError, match="unknown column"):
        typed([{"id": "a", "ts": "2024-01-01", "nope": 1}])
    with pytest.raises(ValidationError, match="'ts' is required"):
        typed([{"id": "a"}])


def test_chunked_and_dictionary_columns() -> None:
    part = pa.table({"id": pa.array(["a", "b"]).dictionary_encode(), "ts": ["2024-01-01"] * 2, "n": [1, 2]})
    bad = pa.table({"id": pa.array(["c"]).dictionary_encode(), "ts": ["2024-01-01"], "n": [1.5]})
    table = typed(pa.concat_tables([part, part]))
    assert table.column("id").to_pylist() == ["a", "b", "a", "b"]
    with pytest.raises(ValidationError, match="'n' row 4"):
        typed(pa.concat_tables([part, part, bad], promote_options="permissive"))
