"""Local time without a per-row timezone library call.

DuckDB converts instants to a timezone through ICU, row by row, which dominates the
cost of date-time features on large data. A zone's offset from UTC only changes at a
few instants a year, so we compute, once per zone and from Python's zoneinfo, the
offset at the start of each year 1970–2100 and at most two changes within it; the SQL
then picks the offset with two comparisons. Zones with more than two changes in some
year, and instants outside those years, use DuckDB's ICU conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

FIRST_YEAR, LAST_YEAR = 1970, 2100


def _offset(zone: ZoneInfo, epoch: int) -> int:
    moment = datetime.fromtimestamp(epoch, UTC).astimezone(zone)
    delta = moment.utcoffset() or timedelta(0)
    return int(delta.total_seconds())


def _change_after(zone: ZoneInfo, lo: int, hi: int) -> int:
    """The first second in (lo, hi] whose offset differs from lo's (bisection)."""
    base = _offset(zone, lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(zone, mid) == base:
            lo = mid
        else:
            hi = mid
    return hi


@lru_cache(maxsize=64)
def offset_table(name: str) -> tuple[list[int], list[int | None], list[int], list[int | None], list[int]] | None:
    """Per year: offset at the start, first change instant and offset after it, second
    change instant and offset after it (None when absent). None if a year has more."""
    zone = ZoneInfo(name)
    o0: list[int] = []
    t1: list[int | None] = []
    o1: list[int] = []
    t2: list[int | None] = []
    o2: list[int] = []
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
        end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
        changes: list[tuple[int, int]] = []
        day = 86_400
        prev_t, prev_o = start, _offset(zone, start)
        for t in range(start + day, end + day, day):
            t = min(t, end - 1)
            off = _offset(zone, t)
            if off != prev_o:
                at = _change_after(zone, prev_t, t)
                changes.append((at, _offset(zone, at)))
                if _offset(zone, t) != changes[-1][1]:
                    return None  # two changes within one day: leave it to ICU
            prev_t, prev_o = t, off
            if t == end - 1:
                break
        if len(changes) > 2:
            return None
        first = _offset(zone, start)
        o0.append(first)
        t1.append(changes[0][0] if changes else None)
        o1.append(changes[0][1] if changes else first)
        t2.append(changes[1][0] if len(changes) > 1 else None)
        o2.append(changes[1][1] if len(changes) > 1 else o1[-1])
    return o0, t1, o1, t2, o2


def local_time_sql(column_sql: str, column_type: str, zone: str) -> str:
    """SQL for the local wall-clock TIMESTAMP of `column_sql` in `zone` (naive input = UTC)."""
    upper = column_type.upper()
    if upper == "TIMESTAMP" or upper.startswith("TIMESTAMP_") or upper == "DATE":
        utc = f"CAST({column_sql} AS TIMESTAMP)"
    else:
        tz_value = column_sql if upper.startswith("TIMESTAMP WITH") else f"CAST({column_sql} AS TIMESTAMPTZ)"
        utc = f"make_timestamp(epoch_us({tz_value}))"
    icu = f"CAST(timezone('{zone}', CAST({utc} AS TIMESTAMPTZ)) AS TIMESTAMP)"
    table = offset_table(zone)
    if table is None:
        return icu
    o0, t1, o1, t2, o2 = table
    if len(set(o0 + o1 + o2)) == 1:
        return f"{utc} + to_seconds({o0[0]})"

    def lst(values: Sequence[int | None]) -> str:
        return "[" + ", ".join("NULL" if v is None else str(v) for v in values) + "]"

    i = f"(year({utc}) - {FIRST_YEAR - 1})"
    e = f"epoch({utc})"
    offset = (
        f"CASE WHEN {e} >= {lst(t2)}[{i}] THEN {lst(o2)}[{i}] "
        f"WHEN {e} >= {lst(t1)}[{i}] THEN {lst(o1)}[{i}] ELSE {lst(o0)}[{i}] END"
    )
    return (
        f"CASE WHEN {utc} IS NULL THEN NULL "
        f"WHEN year({utc}) BETWEEN {FIRST_YEAR} AND {LAST_YEAR} THEN {utc} + to_seconds({offset}) "
        f"ELSE {icu} END"
    )
