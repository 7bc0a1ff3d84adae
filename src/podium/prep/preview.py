"""Preview a recipe: the first rows after each step, computed on a sample of the source
(statistics such as means and categories come from the sample, as in Data Wrangler)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from podium.prep.engine import connect
from podium.prep.executor import TableResolver, prepare, source_from
from podium.prep.progress import QueryProgress, watch_query
from podium.prep.recipe import Recipe


@dataclass(frozen=True)
class StepPreview:
    """Rows after one step (number 0 is the source itself)."""

    number: int
    op: str
    note: str | None
    rows: pa.Table


def preview(
    recipe: Recipe,
    source: Any,
    n: int = 10,
    *,
    sample: int | None = 50_000,
    resolver: TableResolver | None = None,
    progress: QueryProgress | None = None,
) -> list[StepPreview]:
    """The first `n` rows of the source and after each step, over the first `sample` rows
    of `source` (a path, glob, list of paths, Arrow table or DataFrame; None = all rows).
    `progress(stage, percent)` follows the queries that can be long (`podium.prep.progress`):
    "sample" (reading the sample) and "prepare" (checking and fitting the steps)."""
    con = connect()
    try:
        raw = source_from(con, source, "preview_raw")
        limit = f" LIMIT {int(sample)}" if sample is not None else ""
        with watch_query(con, "sample", progress):
            con.execute(f"CREATE TABLE preview_source AS SELECT * FROM {raw}{limit}")
        with watch_query(con, "prepare", progress):
            prepared = prepare(recipe, con, "preview_source", resolver=resolver)
        out = [StepPreview(0, "source", None, con.sql(prepared.sql_after(0, n)).to_arrow_table())]
        for step in prepared.steps:
            rows = con.sql(prepared.sql_after(step.number, n)).to_arrow_table()
            out.append(StepPreview(step.number, step.step.op, step.step.note, rows))
        return out
    finally:
        con.close()
