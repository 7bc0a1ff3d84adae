"""Export a recipe: as a standalone Python script that reproduces it with DuckDB, or as
an ASL workflow whose Task runs it as a batch job (`glue:startJobRun.sync`)."""

from __future__ import annotations

import json
from typing import Any

from podium.prep import steps as S
from podium.prep.executor import Prepared

_SCRIPT = '''#!/usr/bin/env python3
"""Recipe {name!r}, exported by Podium: reproduces it with DuckDB alone.

    python {{script}} INPUT [INPUT ...] --output result.parquet

INPUT are files (CSV, JSON Lines, JSON, Parquet; .gz/.zst allowed; globs work). Values
learned from the data when the recipe was exported (one-hot categories, ordinal orders)
are fixed in the SQL below; statistics such as means are recomputed on the input.
Needs: pip install duckdb pyarrow
"""

import argparse
import importlib

import duckdb
import pyarrow as pa

SOURCE = {source!r}
DEFAULT_INPUTS = {inputs!r}
# (SQL feeding the function, "module:callable", batch size, table it fills)
PYTHON_STEPS = {python!r}
FINAL_SQL = {final!r}


def reader(paths):
    first = paths[0].lower()
    for ext in (".gz", ".zst", ".zstd"):
        if first.endswith(ext):
            first = first[: -len(ext)]
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    if first.endswith(".parquet"):
        return f"read_parquet({{files}}, union_by_name = true)"
    if first.endswith((".jsonl", ".ndjson")):
        return f"read_json({{files}}, format = 'newline_delimited', union_by_name = true)"
    if first.endswith(".json"):
        return f"read_json({{files}}, format = 'auto', union_by_name = true)"
    return f"read_csv({{files}}, header = true, union_by_name = true)"


def load(ref):
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def run_python(con, sql, ref, batch_size, table):
    fn = load(ref)
    cursor = con.cursor()
    reader_ = con.sql(sql).to_arrow_reader(batch_size)
    created = False
    batches = list(reader_) or [pa.RecordBatch.from_pylist([], schema=reader_.schema)]
    for batch in batches:
        out = fn(batch)
        for piece in out.to_batches() if isinstance(out, pa.Table) else [out]:
            cursor.register("_podium_batch", piece)
            verb = "INSERT INTO " + table if created else "CREATE OR REPLACE TABLE " + table + " AS"
            cursor.execute(verb + " SELECT * FROM _podium_batch")
            cursor.unregister("_podium_batch")
            created = True
    cursor.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", default=DEFAULT_INPUTS)
    parser.add_argument("--output", required=True, help="a .parquet or .csv file")
    args = parser.parse_args()
    if not args.inputs:
        parser.error("give at least one input file")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # naive timestamps are UTC, as in Podium
    con.execute(f"CREATE VIEW {{SOURCE}} AS SELECT * FROM {{reader(args.inputs)}}")
    for sql, ref, batch_size, table in PYTHON_STEPS:
        run_python(con, sql, ref, batch_size, table)
    fmt = "csv" if args.output.lower().endswith(".csv") else "parquet"
    target = args.output.replace("'", "''")
    con.execute(f"COPY ({{FINAL_SQL}}) TO '{{target}}' (FORMAT {{fmt}})")


if __name__ == "__main__":
    main()
'''


def to_script(prepared: Prepared, inputs: list[str] | None = None) -> str:
    """A standalone script reproducing `prepared` (prepared over a view named like
    `prepared.source`), reading `inputs` unless others are given on its command line."""
    python = []
    for step in prepared.steps:
        if isinstance(step.step, S.Python):
            python.append((prepared.sql_after(step.number - 1), step.step.function, step.step.batch_size, step.relation))
    return _SCRIPT.format(
        name=prepared.recipe.name,
        source=prepared.source,
        inputs=list(inputs or []),
        python=python,
        final=prepared.sql,
    )


GLUE_SYNC = "arn:aws:states:::glue:startJobRun.sync"


def to_workflow(job_name: str, *, bookmark: str | None = None, comment: str | None = None) -> dict[str, Any]:
    """An ASL document running batch job `job_name` and waiting for it to finish."""
    arguments: dict[str, str] = {}
    if bookmark is not None:
        arguments["--job-bookmark-option"] = f"job-bookmark-{bookmark}"
    params: dict[str, Any] = {"JobName": job_name}
    if arguments:
        params["Arguments"] = arguments
    return {
        "Comment": comment or f"Run batch job {job_name} (exported by Podium)",
        "StartAt": "RunJob",
        "States": {
            "RunJob": {
                "Type": "Task",
                "Resource": GLUE_SYNC,
                "Parameters": params,
                "Retry": [
                    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 2.0}
                ],
                "End": True,
            }
        },
    }


def workflow_json(job_name: str, **kwargs: Any) -> str:
    return json.dumps(to_workflow(job_name, **kwargs), indent=2)
