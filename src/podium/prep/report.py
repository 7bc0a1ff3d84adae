"""The data-quality report (Data Wrangler's Data Quality and Insights report): per-column
types, missing values, distinct counts, histograms and top values, duplicate rows,
outliers, correlations, and target-leakage hints when a target column is named.

Statistics are computed by DuckDB over the whole relation; the HTML is one
self-contained file with inline SVG charts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import duckdb

from podium.prep.plots import bar_chart
from podium.prep.progress import QueryProgress, watch_query
from podium.prep.quoting import ident

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "FLOAT", "DOUBLE", "REAL")
LEAKAGE_CORRELATION = 0.95
LEAKAGE_PURITY = 0.99
CORRELATION_HINT = 0.9


def is_numeric(type_name: str) -> bool:
    return type_name.upper().startswith(_NUMERIC) or type_name.upper().startswith("DECIMAL")


@dataclass
class ColumnProfile:
    name: str
    type: str
    missing: int
    distinct: int
    stats: dict[str, Any] = field(default_factory=dict)
    top: list[tuple[str, int]] = field(default_factory=list)
    histogram: list[tuple[str, int]] = field(default_factory=list)
    outliers: int = 0


@dataclass
class Report:
    title: str
    rows: int
    duplicate_rows: int
    columns: list[ColumnProfile]
    target: str | None = None
    hints: list[dict[str, Any]] = field(default_factory=list)
    correlations: list[tuple[str, str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "target": self.target,
            "hints": self.hints,
            "correlations": [{"a": a, "b": b, "r": r} for a, b, r in self.correlations],
            "columns": [c.__dict__ for c in self.columns],
        }


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    return tuple(con.execute(sql).fetchall()[0])


def profile(con: duckdb.DuckDBPyConnection, relation: str, *, target: str | None = None, title: str = "Data quality report") -> Report:
    """Compute the report over the table or view `relation`."""
    rel = con.sql(f"SELECT * FROM {relation}")
    names, types = list(rel.columns), [str(t) for t in rel.types]
    if target is not None and target not in names:
        from podium.errors import ValidationError

        raise ValidationError(f"target column '{target}' is not in the data (columns: {names})")
    rows = int(_one(con, f"SELECT count(*) FROM {relation}")[0])
    distinct_rows = int(_one(con, f"SELECT count(*) FROM (SELECT DISTINCT * FROM {relation})")[0])
    profiles = [_profile_column(con, relation, n, t, rows) for n, t in zip(names, types, strict=True)]
    report = Report(title, rows, rows - distinct_rows, profiles, target)
    numeric = [p.name for p in profiles if is_numeric(p.type)]
    report.correlations = _correlations(con, relation, numeric)
    if target is not None:
        report.hints = _target_hints(con, relation, profiles, target, report.correlations, rows)
    return report


def _profile_column(con: duckdb.DuckDBPyConnection, relation: str, name: str, type_name: str, rows: int) -> ColumnProfile:
    col = ident(name)
    missing, distinct = _one(con, f"SELECT count(*) - count({col}), approx_count_distinct({col}) FROM {relation}")
    if type_name.upper().startswith(("STRUCT", "MAP", "LIST")) or type_name.endswith("[]"):
        return ColumnProfile(name, type_name, int(missing), int(distinct))
    top = con.execute(
        f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM {relation} WHERE {col} IS NOT NULL "
        "GROUP BY 1 ORDER BY n DESC, v LIMIT 10"
    ).fetchall()
    prof = ColumnProfile(name, type_name, int(missing), int(distinct), top=[(str(v), int(n)) for v, n in top])
    if is_numeric(type_name) and rows - missing > 0:
        lo, hi, mean, std, med, p5, p95 = _one(
            con,
            f"SELECT min({col}), max({col}), avg({col}), stddev_samp({col}), median({col}), "
            f"quantile_cont({col}, 0.05), quantile_cont({col}, 0.95) FROM {relation}",
        )
        prof.stats = {"min": lo, "max": hi, "mean": mean, "std": std, "median": med}
        prof.histogram = _histogram(con, relation, col, float(lo), float(hi))
        # Data Wrangler's rule: beyond median ± 5 robust std (std of values clipped to [p5, p95]).
        rstd = _one(con, f"SELECT stddev_samp(least(greatest({col}, {p5!r}), {p95!r})) FROM {relation}")[0]
        if rstd is not None and not math.isnan(float(rstd)):
            band = 5 * float(rstd)
            prof.outliers = int(_one(
                con, f"SELECT count(*) FROM {relation} WHERE {col} > {float(med) + band!r} OR {col} < {float(med) - band!r}"
            )[0])
    return prof


def _histogram(con: duckdb.DuckDBPyConnection, relation: str, col: str, lo: float, hi: float, bins: int = 20) -> list[tuple[str, int]]:
    if hi == lo:
        n = _one(con, f"SELECT count({col}) FROM {relation}")[0]
        return [(f"{lo:g}", int(n))]
    width = (hi - lo) / bins
    counts = dict(con.execute(
        f"SELECT least(CAST(floor(({col} - {lo!r}) / {width!r}) AS INTEGER), {bins - 1}) AS b, count(*) "
        f"FROM {relation} WHERE {col} IS NOT NULL GROUP BY 1"
    ).fetchall())
    return [(f"{lo + i * width:.4g}", int(counts.get(i, 0))) for i in range(bins)]


def _correlations(con: duckdb.DuckDBPyConnection, relation: str, numeric: list[str]) -> list[tuple[str, str, float]]:
    pairs = [(a, b) for i, a in enumerate(numeric) for b in numeric[i + 1:]][:400]
    if not pairs:
        return []
    exprs = ", ".join(f"corr(CAST({ident(a)} AS DOUBLE), CAST({ident(b)} AS DOUBLE))" for a, b in pairs)
    values = _one(con, f"SELECT {exprs} FROM {relation}")
    out = [(a, b, float(r)) for (a, b), r in zip(pairs, values, strict=True) if r is not None and not math.isnan(r)]
    return sorted(out, key=lambda t: -abs(t[2]))


def _target_hints(
    con: duckdb.DuckDBPyConnection, relation: str, profiles: list[ColumnProfile], target: str,
    correlations: list[tuple[str, str, float]], rows: int,
) -> list[dict[str, Any]]:
    hints: list[dict[str, Any]] = []
    t = ident(target)
    for a, b, r in correlations:
        if target in (a, b):
            other = b if a == target else a
            kind = "leakage" if abs(r) >= LEAKAGE_CORRELATION else "correlation"
            hints.append({"column": other, "kind": kind, "score": round(r, 4),
                          "message": f"correlation with {target} is {r:.3f}"
                          + (" — likely target leakage" if kind == "leakage" else "")})
    for p in profiles:
        if p.name == target or is_numeric(p.type) or rows == 0:
            continue
        if p.distinct >= max(2, rows * 0.9):
            continue  # an identifier: purity would be trivially 1
        c = ident(p.name)
        purity = _one(
            con,
            f"SELECT sum(top) / sum(n) FROM (SELECT {c}, max(k) AS top, sum(k) AS n FROM "
            f"(SELECT {c}, {t}, count(*) AS k FROM {relation} GROUP BY ALL) GROUP BY {c})",
        )[0]
        if purity is not None and float(purity) >= LEAKAGE_PURITY:
            hints.append({"column": p.name, "kind": "leakage", "score": round(float(purity), 4),
                          "message": f"each value of {p.name} determines {target} ({float(purity):.1%} of rows) — likely target leakage"})
    return sorted(hints, key=lambda h: (h["kind"] != "leakage", -abs(h["score"])))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return escape(str(v)) if v is not None else "-"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    dup_pct = report.duplicate_rows / report.rows if report.rows else 0.0
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{escape(report.title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}"
        ".col{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}"
        ".hint-leakage{color:#b00020}.charts{display:flex;gap:2em;flex-wrap:wrap}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        f"<p class='generated'>Generated {datetime.now(UTC).isoformat(timespec='seconds')} by Podium.</p>",
        "<h2>Summary</h2><table id='summary'>",
        f"<tr><th>rows</th><td>{report.rows}</td></tr>",
        f"<tr><th>columns</th><td>{len(report.columns)}</td></tr>",
        f"<tr><th>duplicate rows</th><td id='duplicates'>{report.duplicate_rows} ({dup_pct:.2%})</td></tr>",
        f"<tr><th>missing cells</th><td>{sum(c.missing for c in report.columns)}</td></tr>",
        "</table>",
        "<h2>Columns</h2><table id='columns'><tr><th>column</th><th>type</th><th>missing</th><th>distinct</th><th>outliers</th></tr>",
    ]
    for c in report.columns:
        pct = c.missing / report.rows if report.rows else 0.0
        parts.append(
            f"<tr><td>{escape(c.name)}</td><td>{escape(c.type)}</td><td>{c.missing} ({pct:.1%})</td>"
            f"<td>{c.distinct}</td><td>{c.outliers}</td></tr>"
        )
    parts.append("</table>")
    if report.target is not None:
        parts.append(f"<h2>Target: {escape(report.target)}</h2><ul id='hints'>")
        for h in report.hints:
            parts.append(f"<li class='hint-{h['kind']}' data-column='{escape(h['column'])}'>{escape(h['message'])}</li>")
        if not report.hints:
            parts.append("<li>No leakage or strong correlation found.</li>")
        parts.append("</ul>")
    strong = [(a, b, r) for a, b, r in report.correlations if abs(r) >= CORRELATION_HINT]
    parts.append("<h2>Correlated features</h2><ul id='correlations'>")
    parts += [f"<li>{escape(a)} ~ {escape(b)}: r = {r:.3f}</li>" for a, b, r in strong] or ["<li>None above 0.9.</li>"]
    parts.append("</ul>")
    for c in report.columns:
        parts.append(f"<div class='col' id='col-{escape(c.name)}'><h3>{escape(c.name)} <small>{escape(c.type)}</small></h3>")
        if c.stats:
            parts.append("<p>" + ", ".join(f"{k} {_fmt(v)}" for k, v in c.stats.items()) + "</p>")
        parts.append("<div class='charts'>")
        if c.histogram:
            parts.append(bar_chart([b for b, _ in c.histogram], [n for _, n in c.histogram], title=f"Histogram of {c.name}"))
        if c.top:
            parts.append(bar_chart([v for v, _ in c.top], [n for _, n in c.top], title=f"Top values of {c.name}", horizontal=True))
        parts.append("</div></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def recipe_report(
    recipe: Any, source: Any, *, target: str | None = None, resolver: Any = None, title: str | None = None,
    progress: QueryProgress | None = None,
) -> Report:
    """The report over the output of `recipe` (None: the source itself) on `source`.
    `progress(stage, percent)` follows the running queries (`podium.prep.progress`):
    stages "prepare", "recipe" (computing the output once) and "profile"."""
    from podium.prep.engine import connect
    from podium.prep.executor import prepare, source_from

    con = connect()
    try:
        src = source_from(con, source)
        relation = src
        if recipe is not None and recipe.steps:
            with watch_query(con, "prepare", progress):
                prepared = prepare(recipe, con, src, resolver=resolver)
            with watch_query(con, "recipe", progress):
                con.execute(f"CREATE TABLE report_input AS {prepared.sql}")
            relation = "report_input"
        name = title or (f"Data quality report: {recipe.name}" if recipe is not None else "Data quality report")
        with watch_query(con, "profile", progress):
            return profile(con, relation, target=target, title=name)
    finally:
        con.close()
