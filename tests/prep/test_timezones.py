"""The offset-table local time agrees with DuckDB's ICU conversion, second by second."""

from __future__ import annotations

import pytest

from podium.prep.engine import connect
from podium.prep.timezones import local_time_sql, offset_table


@pytest.mark.parametrize(
    "zone", ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham", "UTC"]
)
def test_fast_local_time_matches_icu(zone: str) -> None:
    con = connect()
    con.execute(
        "CREATE TABLE t AS SELECT TIMESTAMP '1970-01-01' + to_seconds(CAST(hash(i) % 4100000000 AS BIGINT)) AS ts "
        "FROM range(50000) r(i)"
    )
    # Around the 2024 European and American changes, every second, plus outside the table.
    con.execute(
        "INSERT INTO t SELECT TIMESTAMP '2024-03-31 00:59:00' + to_seconds(i) FROM range(120) r(i) "
        "UNION ALL SELECT TIMESTAMP '2024-11-03 05:59:00' + to_seconds(i) FROM range(120) r(i) "
        "UNION ALL SELECT * FROM (VALUES (TIMESTAMP '2150-06-01 12:00'), (TIMESTAMP '1950-06-01 12:00'), (NULL)) v(ts)"
    )
    con.execute("CREATE TABLE tz AS SELECT CAST(ts AS TIMESTAMPTZ) AS ts FROM t")
    for table, typ in (("t", "TIMESTAMP"), ("tz", "TIMESTAMP WITH TIME ZONE")):
        fast = local_time_sql("ts", typ, zone)
        bad = con.execute(
            f"SELECT count(*) FROM {table} WHERE ({fast}) IS DISTINCT FROM timezone('{zone}', CAST(ts AS TIMESTAMPTZ))"
        ).fetchall()[0][0]
        assert bad == 0


def test_zone_with_many_changes_falls_back_to_icu() -> None:
    assert offset_table("Africa/Casablanca") is None
    assert "timezone(" in local_time_sql("ts", "TIMESTAMP", "Africa/Casablanca")
