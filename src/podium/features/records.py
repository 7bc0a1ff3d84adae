"""Incoming feature data made into a typed Arrow table, or rejected naming column and row.

Accepted inputs: an Arrow table, a pandas DataFrame, a list of dicts, one dict (a single
record), or the path of a Parquet file or directory (a batch job's output). Each column is cast to its declared type with safe casts only: 1.5 is not an
int64, "3" is not a float64, True is not an int64. Timestamps without a zone are UTC;
timestamp columns also accept ISO-8601 strings and epoch seconds (SageMaker's String and
Fractional event times). Record identifiers and the event time may not be null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from podium.errors import ValidationError
from podium.features.group import FeatureGroup
from podium.features.types import arrow_type

TIMESTAMP = pa.timestamp("us", tz="UTC")


def to_arrow(data: Any, group: str = "?") -> pa.Table:
    """Input data as an Arrow table (columns not yet checked against the definition)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, str | Path):
        # A batch job's output: a Parquet file or a directory of them (hive partitions too).
        try:
            hive = "hive" if Path(data).is_dir() else None  # a file's own folder names are no columns
            return ds.dataset(str(data), format="parquet", partitioning=hive).to_table()
        except (OSError, pa.ArrowInvalid) as exc:
            raise ValidationError(f"feature data {str(data)!r} cannot be read as Parquet: {exc}") from None
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pd.DataFrame):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A mixed-type object column: convert column by column to find the row.
            return pa.table({str(c): _python_array(group, str(c), data[c].tolist()) for c in data.columns})
    if isinstance(data, Mapping):
        data = [data]
    if isinstance(data, Sequence) and all(isinstance(r, Mapping) for r in data):
        names: list[str] = []
        for record in data:
            names.extend(n for n in record if n not in names)
        return pa.table({n: _python_array(group, n, [r.get(n) for r in data]) for n in names})
    raise ValidationError(
        "feature data must be an Arrow table, a pandas DataFrame, a list of records (dicts), "
        f"one record or a Parquet path, not {type(data).__name__}"
    )


def _python_array(group: str, name: str, values: list[Any]) -> pa.Array:
    """Python values as an Arrow array of their common type; mixed kinds name the first odd row."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    # The shortest prefix that has no common type ends at the first value of another kind.
    low, high = 1, len(values)
    while low < high:
        middle = (low + high) // 2
        try:
            pa.array(values[:middle])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            high = middle
        else:
            low = middle + 1
    row = low - 1
    raise ValidationError(
        f"feature group '{group}': column '{name}' row {row}: value {values[row]!r} "
        f"({type(values[row]).__name__}) does not match the earlier rows' type",
        details={"column": name, "row": row},
    )


def conform(
    group: FeatureGroup, table: pa.Table, *, extra_columns: Sequence[str] = ()
) -> pa.Table:
    """`table` with the group's features in declared order and declared types.

    Value features missing from the input become null; unknown columns are rejected;
    `extra_columns` (such as a write-time column) are kept as they are at the end.
    """
    declared = {f.name: f for f in group.features}
    unknown = [c for c in table.column_names if c not in declared and c not in extra_columns]
    if unknown:
        raise ValidationError(
            f"feature group '{group.name}': unknown column(s) {', '.join(unknown)}; "
            f"add them with add_features or drop them"
        )
    for required in (*group.record_identifiers, group.event_time):
        if required not in table.column_names:
            raise ValidationError(f"feature group '{group.name}': column '{required}' is required")
    arrays: list[pa.Array] = []
    names: list[str] = []
    for feature in group.features:
        if feature.name in table.column_names:
            column = table.column(feature.name)
            arrays.append(cast_column(group.name, feature.name, feature.type, column))
        else:
            arrays.append(pa.nulls(table.num_rows, type=arrow_type(feature.type)))
        names.append(feature.name)
    for required in (*group.record_identifiers, group.event_time):
        column = arrays[names.index(required)]
        if column.null_count:
            row = _first_index(pc.is_null(column))
            raise ValidationError(
                f"feature group '{group.name}': column '{required}' row {row}: "
                "record identifiers and the event time may not be null",
                details={"column": required, "row": row},
            )
    for extra in extra_columns:
        if extra in table.column_names:
            arrays.append(table.column(extra))
            names.append(extra)
    return pa.table(arrays, names=names)


def cast_column(
    group: str, name: str, type_name: str, column: pa.Array | pa.ChunkedArray
) -> pa.Array | pa.ChunkedArray:
    """`column` as the Arrow type of `type_name`, or ValidationError naming the first bad row."""
    target = arrow_type(type_name)
    source = column.type
    if pa.types.is_dictionary(source):
        column = column.cast(source.value_type)
        source = column.type
    if pa.types.is_null(source):
        return pa.nulls(len(column), type=target)

    def reject(row: int, why: str = "") -> ValidationError:
        if len(column) == 0:
            return ValidationError(
                f"feature group '{group}': column '{name}' has type {source}, not {type_name}",
                details={"column": name, "row": None, "expected": type_name},
            )
        value = column[row].as_py() if row < len(column) else None
        return ValidationError(
            f"feature group '{group}': column '{name}' row {row}: value {value!r} "
            f"({source}) is not {type_name}{why}",
            details={"column": name, "row": row, "expected": type_name},
        )

    if type_name == "timestamp":
        return _to_timestamp(column, reject)
    if type_name == "int64":
        allowed = pa.types.is_integer(source) or pa.types.is_floating(source)
    elif type_name == "float64":
        allowed = pa.types.is_integer(source) or pa.types.is_floating(source) or pa.types.is_decimal(source)
    elif type_name == "string":
        allowed = pa.types.is_string(source) or pa.types.is_large_string(source)
    elif type_name == "bool":
        allowed = pa.types.is_boolean(source)
    else:  # list<...>
        allowed = pa.types.is_list(source) or pa.types.is_large_list(source)
    if not allowed:
        raise reject(_first_index(pc.is_valid(column)))
    try:
        return column.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise reject(_first_failing_row(column, lambda part: part.cast(target, safe=True))) from None


def _to_timestamp(column: pa.Array, reject: Callable[..., ValidationError]) -> pa.Array:
    source = column.type
    if pa.types.is_timestamp(source):
        if source.tz is None:
            # Arrow keeps timestamps as UTC instants: tagging a zone-less column with UTC
            # reads its wall-clock values as UTC.
            column = column.cast(pa.timestamp(source.unit, tz="UTC"))
        return column.cast(TIMESTAMP, safe=False)
    if pa.types.is_date(source):
        return column.cast(pa.timestamp("us")).cast(TIMESTAMP)
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        text = pd.Series(column.to_pylist(), dtype="object")
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna() & text.notna()
        if bad.any():
            raise reject(int(bad.to_numpy().argmax()), " (use ISO-8601, e.g. 2024-01-31T12:00:00Z)")
        return pa.array(parsed.astype("datetime64[us, UTC]"), type=TIMESTAMP)
    if pa.types.is_integer(source) or pa.types.is_floating(source):
        # Epoch seconds, SageMaker's Fractional event time, kept to the microsecond.
        micros = pc.round(pc.multiply(column.cast(pa.float64()), 1_000_000.0))
        return micros.cast(pa.int64()).cast(TIMESTAMP)
    raise reject(_first_index(pc.is_valid(column)))


def _first_index(mask: pa.Array) -> int:
    index = pc.index(mask, True).as_py()
    return int(index) if index is not None and index >= 0 else 0


def _first_failing_row(column: pa.Array, attempt: Callable[[pa.Array], Any]) -> int:
    """The first row for which `attempt` raises, by halving (log n attempts)."""
    low, high = 0, len(column)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            attempt(column.slice(low, middle - low))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            high = middle
        else:
            low = middle
    return low
