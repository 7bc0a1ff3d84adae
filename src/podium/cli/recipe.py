"""`podium recipe`: check, preview, run, report on and export data-preparation recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Data preparation recipes: validate, preview, run, data-quality report, export.",
                  no_args_is_help=True)


def _resolver(ctx: typer.Context) -> Any:
    from podium.catalog.resolver import CatalogResolver

    return CatalogResolver(cli_state(ctx).store)


# What the queries behind each stage do, as the progress bars name them.
_STAGES = {"sample": "reading the sample", "prepare": "checking + fitting steps", "recipe": "running the recipe",
           "profile": "profiling columns", "write": "running + writing"}


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return value


@app.command("check")
def check(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="Recipe file (.yaml or .json)."),
    source: str | None = typer.Argument(None, help="Optional data to check column references against."),
) -> None:
    """Validate a recipe; with a source, also check every column it uses.

    Example: podium recipe check taxi.yaml data/trips.csv
    """
    from podium.prep import load_recipe, preview

    parsed = load_recipe(recipe)
    if source is not None:
        preview(parsed, source, n=0, sample=1000, resolver=_resolver(ctx))
    emit(ctx, {"recipe": parsed.name, "steps": len(parsed.steps), "valid": True,
               "ops": " → ".join(s.op for s in parsed.steps)})


@app.command("preview")
def preview_cmd(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="Recipe file (.yaml or .json)."),
    source: str = typer.Argument(..., help="Data: a file, folder, glob or fsspec URL."),
    rows: int = typer.Option(5, "--rows", "-n", help="Rows to show after each step."),
    sample: int = typer.Option(50_000, help="Rows of the source the preview (and its statistics) use."),
    step: int | None = typer.Option(None, help="Show only this step (0 = the source)."),
) -> None:
    """Show the first rows after each step, computed on a sample of the source.

    Example: podium recipe preview taxi.yaml 'data/*.csv' -n 3
    """
    from podium.cli.progress import progress_bars
    from podium.prep import load_recipe, preview

    with progress_bars(ctx, _STAGES) as bars:
        views = preview(load_recipe(recipe), source, n=rows, sample=sample, resolver=_resolver(ctx),
                        progress=bars.query if bars else None)
    if step is not None:
        views = [v for v in views if v.number == step]
    state = cli_state(ctx)
    if state.json:
        emit(ctx, [{"step": v.number, "op": v.op, "rows": v.rows.to_pylist()} for v in views])
        return
    for v in views:
        data = [{k: _cell(x) for k, x in r.items()} for r in v.rows.to_pylist()]
        emit(ctx, data, columns=v.rows.column_names, title=f"step {v.number}: {v.op}" + (f" — {v.note}" if v.note else ""))


@app.command("run")
def run(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="Recipe file (.yaml or .json)."),
    source: str = typer.Argument(..., help="Data: a file, folder, glob or fsspec URL."),
    output: str = typer.Option(..., "--output", "-o", help="File to write: .parquet or .csv (any fsspec URL)."),
    memory_limit: str | None = typer.Option(None, "--memory-limit", help="DuckDB memory limit, e.g. '2GB'."),
) -> None:
    """Run a recipe over all of the source and write the result to one file.

    Rows stream from the source to the file; their order is not kept.
    Example: podium recipe run taxi.yaml 'data/*.csv' -o prepared.parquet
    """
    from podium.cli.progress import progress_bars
    from podium.prep import load_recipe, run_recipe

    parsed = load_recipe(recipe)
    with progress_bars(ctx, _STAGES) as bars:
        rows = run_recipe(parsed, source, output, resolver=_resolver(ctx), memory_limit=memory_limit,
                          progress=bars.query if bars else None)
    emit(ctx, {"recipe": parsed.name, "output": output, "rows": rows})


@app.command("report")
def report(
    ctx: typer.Context,
    recipe: Path | None = typer.Argument(None, help="Recipe file; omit it to profile the source itself."),
    source: str = typer.Option(..., "--source", "-s", help="Data: a file, folder, glob or fsspec URL."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
    target: str | None = typer.Option(None, help="Target column: adds leakage and correlation hints."),
) -> None:
    """Write a self-contained HTML data-quality report of the recipe's output.

    Example: podium recipe report taxi.yaml -s data/trips.csv --target tip -o quality.html
    """
    from podium.cli.progress import progress_bars
    from podium.prep import load_recipe
    from podium.prep.report import recipe_report, render_html

    parsed = load_recipe(recipe) if recipe is not None else None
    with progress_bars(ctx, _STAGES) as bars:
        result = recipe_report(parsed, source, target=target, resolver=_resolver(ctx),
                               progress=bars.query if bars else None)
    output.write_text(render_html(result), encoding="utf-8")
    leaks = [h["column"] for h in result.hints if h["kind"] == "leakage"]
    emit(ctx, {"report": str(output), "rows": result.rows, "columns": len(result.columns),
               "duplicate_rows": result.duplicate_rows, "leakage_hints": leaks})


@app.command("export")
def export(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="Recipe file (.yaml or .json)."),
    to: str = typer.Option(..., "--to", help="'script' (standalone DuckDB Python) or 'workflow' (ASL JSON)."),
    source: str | None = typer.Option(None, "--source", "-s", help="Data the script reads by default (script)."),
    job: str | None = typer.Option(None, "--job", help="Batch job the workflow runs (workflow)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: print)."),
) -> None:
    """Export a recipe as a Python script or as an ASL workflow running a batch job.

    Example: podium recipe export taxi.yaml --to script -s data/trips.csv -o taxi_recipe.py
    Example: podium recipe export taxi.yaml --to workflow --job taxi-nightly -o taxi.asl.json
    """
    from podium.cli.progress import progress_bars
    from podium.errors import ValidationError
    from podium.prep import load_recipe, prepare
    from podium.prep.engine import connect
    from podium.prep.executor import source_from
    from podium.prep.export import to_script, workflow_json
    from podium.prep.progress import watch_query

    parsed = load_recipe(recipe)
    if to == "script":
        if source is None:
            raise ValidationError("--to script needs --source: the data the recipe is checked and fitted on")
        con = connect()
        try:
            name = source_from(con, source, "source")
            with progress_bars(ctx, _STAGES) as bars, watch_query(con, "prepare", bars.query if bars else None):
                text = to_script(prepare(parsed, con, name, resolver=_resolver(ctx)), [source])
        finally:
            con.close()
    elif to == "workflow":
        if job is None:
            raise ValidationError("--to workflow needs --job: the batch job (podium job create) that runs the recipe")
        text = workflow_json(job, comment=f"Run recipe {parsed.name} as batch job {job}")
    else:
        raise ValidationError(f"--to {to!r}: use 'script' or 'workflow'")
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        emit(ctx, {"exported": str(output), "to": to})
