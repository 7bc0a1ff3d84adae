"""Compile recipe steps to DuckDB SQL: one CTE per step (plus a one-row statistics CTE
for steps that need column statistics), chained into a single query.

This module is pure: it turns a step and what is known about its input (column names
and types, values fitted from the data, the right-hand table of a join) into SQL text.
Running queries, fitting and schema checks live in `podium.prep.executor`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from podium.prep import steps as S
from podium.prep.quoting import ident, literal

# Functions used by group-by and window aggregates.
_AGG_SQL = {
    "count": "count({})",
    "sum": "sum({})",
    "avg": "avg({})",
    "mean": "avg({})",
    "min": "min({})",
    "max": "max({})",
    "median": "median({})",
    "std": "stddev_samp({})",
    "count_distinct": "count(DISTINCT {})",
}


@dataclass(frozen=True)
class RightTable:
    """The other side of a join: a table expression and its column names."""

    sql: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class StepInput:
    """What the compiler knows about the rows entering a step."""

    name: str
    columns: tuple[str, ...]
    types: dict[str, str] = field(default_factory=dict)
    # Hidden provenance columns (source file, row) that steps keep when they can.
    carry: tuple[str, ...] = ()
    fitted: tuple[Any, ...] | None = None
    right: RightTable | None = None


def cte_name(index: int) -> str:
    return f"step_{index + 1}"


def needs_fit(step: S.Step) -> bool:
    """Whether the step needs values learned from its input before it can be compiled."""
    return (isinstance(step, S.OneHot) and step.categories is None) or (
        isinstance(step, S.Ordinal) and step.order is None
    )


def fit_sql(step: S.Step, input_name: str) -> str:
    """The query whose rows (one value each) are the step's fitted categories."""
    if isinstance(step, S.OneHot):
        col = ident(step.column)
        # The most frequent categories, ties broken by value, so results are stable.
        return (
            f"SELECT CAST({col} AS VARCHAR) AS v FROM {input_name} WHERE {col} IS NOT NULL "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {step.max_categories}"
        )
    if isinstance(step, S.Ordinal):
        col = ident(step.column)
        return (
            f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {input_name} "
            f"WHERE {col} IS NOT NULL ORDER BY 1 LIMIT 10001"
        )
    raise TypeError(f"step {step.op} needs no fitting")


def safe_name(text: str) -> str:
    """A category value as a column-name suffix."""
    out = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_")
    return out or "blank"


def _keep(inp: StepInput) -> str:
    return "".join(", " + ident(c) for c in inp.carry)


def _replace(pairs: list[tuple[str, str]], source: str, star: str = "*") -> str:
    body = ", ".join(f"{expr} AS {ident(col)}" for col, expr in pairs)
    return f"SELECT {star} REPLACE ({body}) FROM {source}"


def _stats_join(name: str, stats: list[tuple[str, str]], inp: StepInput) -> tuple[str, str]:
    body = "SELECT " + ", ".join(f"{expr} AS {ident(alias)}" for alias, expr in stats)
    return f"{name}_stats", f"{body} FROM {inp.name}"


def compile_step(step: S.Step, index: int, inp: StepInput) -> list[tuple[str, str]]:
    """CTEs (name, body) for one step; the last one is named `cte_name(index)`."""
    out = cte_name(index)
    src = inp.name
    if isinstance(step, S.Select):
        cols = ", ".join(ident(c) for c in step.columns)
        return [(out, f"SELECT {cols}{_keep(inp)} FROM {src}")]
    if isinstance(step, S.Drop):
        cols = ", ".join(ident(c) for c in step.columns)
        return [(out, f"SELECT * EXCLUDE ({cols}) FROM {src}")]
    if isinstance(step, S.Rename):
        pairs = ", ".join(f"{ident(a)} AS {ident(b)}" for a, b in step.mapping.items())
        return [(out, f"SELECT * RENAME ({pairs}) FROM {src}")]
    if isinstance(step, S.Cast):
        fn = "TRY_CAST" if step.safe else "CAST"
        return [(out, _replace([(c, f"{fn}({ident(c)} AS {t})") for c, t in step.columns.items()], src))]
    if isinstance(step, S.Filter):
        return [(out, f"SELECT * FROM {src} WHERE ({step.expr})")]
    if isinstance(step, S.Dedupe):
        return [(out, _dedupe(step, inp))]
    if isinstance(step, S.Fill):
        return _fill(step, out, inp)
    if isinstance(step, S.OneHot):
        return [(out, _onehot(step, inp))]
    if isinstance(step, S.Ordinal):
        return [(out, _ordinal(step, inp))]
    if isinstance(step, S.Scale):
        return _scale(step, out, inp)
    if isinstance(step, S.Bin):
        return _bin(step, out, inp)
    if isinstance(step, S.Text):
        return [(out, _text(step, inp))]
    if isinstance(step, S.DateTime):
        return [(out, _datetime(step, inp))]
    if isinstance(step, S.Join):
        return [(out, _join(step, inp))]
    if isinstance(step, S.GroupBy):
        keys = ", ".join(ident(k) for k in step.keys)
        aggs = ", ".join(f"{_agg(a)} AS {ident(a.name)}" for a in step.aggregations)
        return [(out, f"SELECT {keys}, {aggs} FROM {src} GROUP BY {keys}")]
    if isinstance(step, S.Window):
        part = f"PARTITION BY {', '.join(ident(k) for k in step.keys)} " if step.keys else ""
        frame = (
            f"OVER ({part}ORDER BY {ident(step.time)} "
            f"RANGE BETWEEN INTERVAL '{step.range}' PRECEDING AND CURRENT ROW)"
        )
        aggs = ", ".join(f"{_agg(a)} {frame} AS {ident(a.name)}" for a in step.aggregations)
        return [(out, f"SELECT *, {aggs} FROM {src}")]
    if isinstance(step, S.Sql):
        return [(out, f"WITH input AS (SELECT * FROM {src}) {step.query}")]
    raise TypeError(f"step {step.op} does not compile to SQL")


def _agg(agg: S.Aggregation) -> str:
    arg = "*" if agg.column is None else ident(agg.column)
    return _AGG_SQL[agg.func].format(arg)


def _dedupe(step: S.Dedupe, inp: StepInput) -> str:
    visible = [c for c in inp.columns if c not in inp.carry]
    if step.keys is None:
        if not inp.carry:
            return f"SELECT DISTINCT * FROM {inp.name}"
        # Provenance differs between duplicates; the earliest source row is kept.
        order = ", ".join(ident(c) for c in inp.carry)
        part = ", ".join(ident(c) for c in visible)
        return f"SELECT * FROM {inp.name} QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY {order}) = 1"
    direction = "ASC" if step.keep == "first" else "DESC"
    order = ", ".join(f"{ident(c)} {direction} NULLS LAST" for c in step.order_by or ())
    tie = "".join(f", {ident(c)}" for c in inp.carry)
    part = ", ".join(ident(k) for k in step.keys)
    return (
        f"SELECT * FROM {inp.name} QUALIFY row_number() OVER "
        f"(PARTITION BY {part} ORDER BY {order}{tie}) = 1"
    )


def _fill(step: S.Fill, out: str, inp: StepInput) -> list[tuple[str, str]]:
    if step.strategy == "constant":
        pairs = [(c, f"coalesce({ident(c)}, {literal(step.value)})") for c in step.columns]
        return [(out, _replace(pairs, inp.name))]
    fn = {"mean": "avg({})", "median": "median({})", "mode": "mode({})"}[step.strategy]
    stats = [(f"fill_{i}", fn.format(ident(c))) for i, c in enumerate(step.columns)]
    stats_name, stats_body = _stats_join(out, stats, inp)
    pairs = [
        (c, f"coalesce({ident(c)}, {stats_name}.{ident(f'fill_{i}')})")
        for i, c in enumerate(step.columns)
    ]
    return [(stats_name, stats_body), (out, _replace(pairs, f"{inp.name}, {stats_name}", f"{inp.name}.*"))]


def _onehot(step: S.OneHot, inp: StepInput) -> str:
    cats = step.categories if step.categories is not None else inp.fitted or ()
    col = ident(step.column)
    taken = set(inp.columns)
    exprs = []
    for value in cats:
        name = f"{step.column}_{safe_name(str(value))}"
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        exprs.append(
            f"CAST(coalesce(CAST({col} AS VARCHAR) = {literal(str(value))}, FALSE) AS INTEGER) AS {ident(name)}"
        )
    head = "*" if step.keep_original else f"* EXCLUDE ({col})"
    return f"SELECT {head}{''.join(', ' + e for e in exprs)} FROM {inp.name}"


def _ordinal(step: S.Ordinal, inp: StepInput) -> str:
    order = step.order if step.order is not None else inp.fitted or ()
    col = ident(step.column)
    whens = " ".join(f"WHEN {literal(str(v))} THEN {i}" for i, v in enumerate(order))
    expr = f"CASE WHEN {col} IS NULL THEN NULL ELSE CASE CAST({col} AS VARCHAR) {whens} ELSE -1 END END"
    if not order:
        expr = f"CASE WHEN {col} IS NULL THEN NULL ELSE -1 END"
    target = step.output or step.column
    if target == step.column:
        return _replace([(step.column, expr)], inp.name)
    return f"SELECT *, {expr} AS {ident(target)} FROM {inp.name}"


def _scale(step: S.Scale, out: str, inp: StepInput) -> list[tuple[str, str]]:
    stats: list[tuple[str, str]] = []
    pairs: list[tuple[str, str]] = []
    sname = f"{out}_stats"
    for i, c in enumerate(step.columns):
        x = ident(c)
        a, b = f"a_{i}", f"b_{i}"
        if step.method == "standard":
            stats += [(a, f"avg({x})"), (b, f"stddev_samp({x})")]
            # A constant column scales to 0 instead of dividing by zero.
            pairs.append((c, f"({x} - {sname}.{a}) / coalesce(nullif({sname}.{b}, 0), 1)"))
        else:
            stats += [(a, f"min({x})"), (b, f"max({x})")]
            pairs.append(
                (c, f"CAST({x} - {sname}.{a} AS DOUBLE) / coalesce(nullif({sname}.{b} - {sname}.{a}, 0), 1)")
            )
    stats_name, stats_body = _stats_join(out, stats, inp)
    return [(stats_name, stats_body), (out, _replace(pairs, f"{inp.name}, {stats_name}", f"{inp.name}.*"))]


def _bin(step: S.Bin, out: str, inp: StepInput) -> list[tuple[str, str]]:
    x = ident(step.column)
    target = step.output or f"{step.column}_bin"
    ctes: list[tuple[str, str]] = []
    source = inp.name
    if step.method == "edges":
        edges = list(step.edges or ())
        last = len(edges) - 2
        # Bins are [e_i, e_i+1); the last bin also holds its right edge; outside is NULL.
        whens = " ".join(
            f"WHEN {x} >= {literal(lo)} AND {x} {'<=' if i == last else '<'} {literal(hi)} THEN {i}"
            for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))
        )
        expr = f"CASE {whens} ELSE NULL END"
    elif step.method == "width":
        n = step.bins or 2
        sname = f"{out}_stats"
        ctes.append((sname, f"SELECT min({x}) AS lo, max({x}) AS hi FROM {inp.name}"))
        source = f"{inp.name}, {sname}"
        expr = (
            f"CASE WHEN {x} IS NULL THEN NULL WHEN {sname}.hi = {sname}.lo THEN 0 "
            f"ELSE CAST(least(floor(({x} - {sname}.lo) / ({sname}.hi - {sname}.lo) * {n}), {n - 1}) AS INTEGER) END"
        )
    else:
        n = step.bins or 2
        sname = f"{out}_stats"
        qs = ", ".join(repr(i / n) for i in range(1, n))
        ctes.append((sname, f"SELECT quantile_cont({x}, [{qs}]) AS q FROM {inp.name}"))
        source = f"{inp.name}, {sname}"
        expr = f"CASE WHEN {x} IS NULL THEN NULL ELSE CAST(len(list_filter({sname}.q, lambda e: e <= {x})) AS INTEGER) END"
    if target in inp.columns:
        body = _replace([(target, expr)], source, f"{inp.name}.*")
    else:
        body = f"SELECT {inp.name}.*, {expr} AS {ident(target)} FROM {source}"
    return [*ctes, (out, body)]


def _text(step: S.Text, inp: StepInput) -> str:
    x = ident(step.column)
    if step.func in ("lower", "upper", "trim"):
        expr = f"{step.func}({x})"
    elif step.func == "regex_extract":
        expr = f"nullif(regexp_extract({x}, {literal(step.pattern)}, {step.group}), '')"
    else:
        expr = f"regexp_replace({x}, {literal(step.pattern)}, {literal(step.replacement)}, 'g')"
    target = step.output or step.column
    if target in inp.columns:
        return _replace([(target, expr)], inp.name)
    return f"SELECT *, {expr} AS {ident(target)} FROM {inp.name}"


def _datetime(step: S.DateTime, inp: StepInput) -> str:
    # The local time is computed once per row in an inner projection, then reused.
    local = ident("__podium_local")
    from podium.prep.timezones import local_time_sql

    column_type = inp.types.get(step.column, "TIMESTAMP WITH TIME ZONE")
    inner = f"SELECT *, {local_time_sql(ident(step.column), column_type, step.timezone)} AS {local} FROM {inp.name}"
    prefix = step.prefix if step.prefix is not None else f"{step.column}_"
    parts = step.parts_of_day or S.DEFAULT_PARTS_OF_DAY
    exprs: dict[str, str] = {
        "year": f"year({local})",
        "month": f"month({local})",
        "day": f"day({local})",
        "day_of_week": f"CAST(isodow({local}) - 1 AS INTEGER)",
        "is_weekend": f"isodow({local}) >= 6",
        "hour": f"hour({local})",
        "minute": f"minute({local})",
        "date": f"CAST({local} AS DATE)",
        "part_of_day": f"CASE WHEN {local} IS NULL THEN NULL "
        + " ".join(
            f"WHEN hour({local}) >= {lo} AND hour({local}) < {hi} THEN {literal(name)}"
            for name, (lo, hi) in parts.items()
        )
        + " ELSE 'other' END",
    }
    cols = ", ".join(f"{exprs[f]} AS {ident(prefix + f)}" for f in step.features)
    return f"SELECT * EXCLUDE ({local}), {cols} FROM ({inner})"


def _join(step: S.Join, inp: StepInput) -> str:
    right = inp.right
    assert right is not None, "join needs the right-hand table"
    pairs = step.key_pairs()
    cond = " AND ".join(f"l.{ident(a)} = r.{ident(b)}" for a, b in pairs)
    if step.how in ("semi", "anti"):
        return f"SELECT l.* FROM {inp.name} AS l {step.how.upper()} JOIN {right.sql} AS r ON {cond}"
    right_keys = {b for _, b in pairs}
    wanted = step.columns if step.columns is not None else tuple(c for c in right.columns if c not in right_keys)
    left_names = set(inp.columns)
    picks = []
    for c in wanted:
        name = c + step.suffix if c in left_names else c
        picks.append(f"r.{ident(c)} AS {ident(name)}")
    head = "l.*"
    if step.how in ("right", "full"):
        # Unmatched right rows have no left key: take the right one so keys are never lost.
        fix = ", ".join(f"coalesce(l.{ident(a)}, r.{ident(b)}) AS {ident(a)}" for a, b in pairs)
        head = f"l.* REPLACE ({fix})"
    how = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "full": "FULL OUTER"}[step.how]
    cols = "".join(", " + p for p in picks)
    return f"SELECT {head}{cols} FROM {inp.name} AS l {how} JOIN {right.sql} AS r ON {cond}"


def chain_sql(source: str, ctes: list[tuple[str, str]], final: str | None = None, limit: int | None = None) -> str:
    """One query: `WITH src AS (...), step_1 AS (...), ... SELECT * FROM <final>`."""
    last = final or (ctes[-1][0] if ctes else source)
    query = f"SELECT * FROM {last}"
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    if not ctes:
        return query
    # Step CTEs are inlined so rows stream through the chain; one-row statistics CTEs are
    # materialized so each is computed once, not again wherever a later step is inlined.
    return "WITH " + ",\n     ".join(
        f"{n} AS {'MATERIALIZED' if n.endswith('_stats') else 'NOT MATERIALIZED'} ({b})" for n, b in ctes
    ) + "\n" + query
