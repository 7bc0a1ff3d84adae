"""`podium job`: batch jobs — define, run (with progress), list runs, manage bookmarks."""

from __future__ import annotations

from pathlib import Path

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Batch ingestion jobs (Glue jobs): sources, recipes, contracts, bookmarks.",
                  no_args_is_help=True)
bookmark_app = typer.Typer(help="Job bookmarks: enable, disable, pause, reset, rewind, show.", no_args_is_help=True)
app.add_typer(bookmark_app, name="bookmark")


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Job definition (.yaml or .json)."),
    replace: bool = typer.Option(False, "--replace", help="Update the job if it exists (new version)."),
) -> None:
    """Create (or with --replace update) a job from a definition file.

    Example: podium job create jobs/orders.yaml

    A definition: name, source {path | table + bookmark_key, read}, recipe (inline or a
    file path), contract {columns: {col: {type, required, allowed, min, max, pattern,
    unique}}}, output {dataset, partition_by}, bookmark (enable | disable | pause),
    timeout_minutes (default 2880), max_retries (0-10, default 0).
    """
    import yaml

    from podium.errors import ValidationError
    from podium.ingest.batch.jobs import create_job, parse_job

    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValidationError(f"{file}: a job definition is a mapping")
    # Relative paths in a definition are relative to the definition file.
    if isinstance(data.get("recipe"), str) and not Path(data["recipe"]).is_absolute():
        data["recipe"] = str((file.parent / data["recipe"]).resolve())
    source = data.get("source")
    if isinstance(source, dict) and isinstance(source.get("path"), str):
        path = source["path"]
        if "://" not in path and not Path(path).is_absolute():
            data["source"] = {**source, "path": str((file.parent / path).resolve())}
    job = parse_job(data)
    version = create_job(cli_state(ctx).store, job, replace=replace)
    emit(ctx, {"job": job.name, "version": version, "dataset": job.output.dataset, "bookmark": job.bookmark})


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List jobs.

    Example: podium job list
    """
    from podium.ingest.batch.jobs import list_jobs

    emit(ctx, list_jobs(cli_state(ctx).store), title="jobs")


@app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Show a job's definition.

    Example: podium job show orders
    """
    from podium.ingest.batch.jobs import get_job

    job, version = get_job(cli_state(ctx).store, name)
    emit(ctx, {"version": version, **job.to_dict()})


@app.command("delete")
def delete(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Delete a job and its bookmark (runs and output data are kept).

    Example: podium job delete orders
    """
    from podium.ingest.batch.jobs import delete_job

    delete_job(cli_state(ctx).store, name)
    emit(ctx, {"deleted": name})


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Job name."),
    bookmark: str | None = typer.Option(None, help="Override for this run: enable, disable or pause."),
    bookmark_from: str | None = typer.Option(None, "--bookmark-from", help="With pause: read again what runs after this one read..."),
    bookmark_to: str | None = typer.Option(None, "--bookmark-to", help="...up to and including this run."),
) -> None:
    """Run a job now, with progress, and print the run record.

    Example: podium job run orders --bookmark pause
    Example: podium job run orders --bookmark pause --bookmark-from jr_aaa --bookmark-to jr_bbb
    """
    from podium.cli.progress import progress_bars
    from podium.errors import ValidationError
    from podium.ingest.batch.runner import run_job

    if bookmark not in (None, "enable", "disable", "pause"):
        raise ValidationError(f"--bookmark {bookmark!r}: use enable, disable or pause")
    if (bookmark_from is None) != (bookmark_to is None):
        raise ValidationError("give both --bookmark-from and --bookmark-to, or neither")
    span = (bookmark_from, bookmark_to) if bookmark_from and bookmark_to else None
    state = cli_state(ctx)
    labels = {"list": "listing source", "read": "reading files", "transform": "recipe + contract",
              "write": "writing Parquet", "commit": "committing"}
    with progress_bars(ctx, labels) as bars:
        result = run_job(state.settings, state.store, name, bookmark=bookmark,  # type: ignore[arg-type]
                         bookmark_range=span, progress=bars.phase if bars else None,
                         query_progress=bars.query if bars else None)
    emit(ctx, result.to_dict(), title=f"run {result.number} of {name}")


@app.command("runs")
def runs(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Job name."),
    limit: int = typer.Option(20, help="Newest runs to show."),
) -> None:
    """List a job's runs, newest first, with counts and status.

    Example: podium job runs orders
    """
    from podium.ingest.batch.runner import list_runs

    rows = list_runs(cli_state(ctx).store, name, limit)
    if cli_state(ctx).json:
        emit(ctx, rows)
        return
    compact = [
        {"#": r["number"], "run": r["id"], "status": r["status"], "bookmark": r["bookmark_option"],
         "files": r["files_read"], "read": r["rows_read"], "written": r["rows_written"],
         "quarantined": r["rows_quarantined"], "filtered": r["rows_filtered"],
         "seconds": round(r["duration_seconds"] or 0.0, 2), "error": r["error"]}
        for r in rows
    ]
    emit(ctx, compact, title=f"runs of {name}")


@bookmark_app.command("show")
def bookmark_show(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Show the bookmark: head run, chain and how many files it remembers.

    Example: podium job bookmark show orders
    """
    from podium.ingest.batch.bookmarks import load_state
    from podium.ingest.batch.jobs import get_job

    store = cli_state(ctx).store
    job, _ = get_job(store, name)
    with store.connect() as conn:
        st = load_state(conn, name)
    emit(ctx, {"job": name, "option": job.bookmark, "head_run": st.head_run_id, "runs_in_chain": len(st.chain),
               "files_remembered": len(st.files), "key_high": st.key_high, "version": st.version})


def _option(ctx: typer.Context, name: str, option: str) -> None:
    from podium.ingest.batch.jobs import set_bookmark_option

    set_bookmark_option(cli_state(ctx).store, name, option)  # type: ignore[arg-type]
    emit(ctx, {"job": name, "bookmark": option})


@bookmark_app.command("enable")
def bookmark_enable(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Runs read only new data and move the bookmark. Example: podium job bookmark enable orders"""
    _option(ctx, name, "enable")


@bookmark_app.command("disable")
def bookmark_disable(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Runs read all data and leave the bookmark alone. Example: podium job bookmark disable orders"""
    _option(ctx, name, "disable")


@bookmark_app.command("pause")
def bookmark_pause(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Runs read data new to the bookmark without moving it. Example: podium job bookmark pause orders"""
    _option(ctx, name, "pause")


@bookmark_app.command("reset")
def bookmark_reset(ctx: typer.Context, name: str = typer.Argument(..., help="Job name.")) -> None:
    """Forget what was processed. Example: podium job bookmark reset orders"""
    from podium.ingest.batch.bookmarks import reset

    reset(cli_state(ctx).store, name)
    emit(ctx, {"job": name, "bookmark": "reset"})


@bookmark_app.command("rewind")
def bookmark_rewind(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Job name."),
    run_id: str = typer.Argument(..., help="Run to rewind to (see podium job runs)."),
) -> None:
    """Point the bookmark at an earlier run; later inputs are read again.

    Example: podium job bookmark rewind orders jr_0123456789abcdef
    """
    from podium.ingest.batch.bookmarks import rewind

    rewind(cli_state(ctx).store, name, run_id)
    emit(ctx, {"job": name, "bookmark": f"rewound to {run_id}"})
