"""Reading files: a single CSV file is sniffed once and then read exactly as DuckDB would."""

from __future__ import annotations

from pathlib import Path

import duckdb

from podium.prep.readers import pinned_read_sql, read_sql

TRICKY = (
    "id;name;when;price;day\n"
    '1;"Dupont; Jean";2024-03-01 10:00:00;"1,5";01/02/2024\n'
    '2;"O""Brien";2024-03-02 11:30:00;2;15/02/2024\n'
    "3;;;;\n"
)


def test_pinned_csv_reads_what_auto_detection_reads(tmp_path: Path) -> None:
    path = tmp_path / "tricky.csv"
    path.write_text(TRICKY)
    con = duckdb.connect()
    pinned = pinned_read_sql(con, [str(path)])
    assert pinned != read_sql([str(path)]) and "auto_detect=false" in pinned.replace(" ", "")
    auto = con.sql(f"SELECT * FROM {read_sql([str(path)])}")
    fixed = con.sql(f"SELECT * FROM {pinned}")
    assert fixed.columns == auto.columns == ["id", "name", "when", "price", "day"]
    assert fixed.types == auto.types
    assert fixed.fetchall() == auto.fetchall()
    assert con.sql(f"SELECT name FROM {pinned} ORDER BY id").fetchall()[:2] == [("Dupont; Jean",), ('O"Brien',)]


def test_other_inputs_are_read_as_before(tmp_path: Path) -> None:
    con = duckdb.connect()
    for i in range(2):
        (tmp_path / f"{i}.csv").write_text("a,b\n1,2\n")
    glob = str(tmp_path / "*.csv")
    assert pinned_read_sql(con, [glob]) == read_sql([glob])
    two = [str(tmp_path / "0.csv"), str(tmp_path / "1.csv")]
    assert pinned_read_sql(con, two) == read_sql(two)
    con.execute(f"COPY (SELECT 1 AS a) TO '{tmp_path / 'x.parquet'}' (FORMAT parquet)")
    assert pinned_read_sql(con, [str(tmp_path / "x.parquet")]) == read_sql([str(tmp_path / "x.parquet")])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    sql = pinned_read_sql(con, [str(empty)])
    assert sql == read_sql([str(empty)]) or con.sql(f"SELECT * FROM {sql}").fetchall() == []
