"""`podium training`: run SageMaker script-mode training jobs locally."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Training jobs: run a SageMaker script-mode script, capture metrics, pack the model.",
                  no_args_is_help=True)


def _jobs(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from podium.models import TrainingJobs

    state = cli_state(ctx)
    return TrainingJobs(state.settings, state.store)


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Job name (unique)."),
    entry_point: Path = typer.Argument(..., help="The training script."),
    channel: list[str] = typer.Option(
        [], "--channel", help="Input channel as NAME=PATH, NAME=URL or NAME=catalog:TABLE (repeatable)."),
    hyperparameter: list[str] = typer.Option([], "--hp", help="Hyperparameter as NAME=VALUE (repeatable)."),
    metric: list[str] = typer.Option([], "--metric", help="Metric as NAME=REGEX with one group (repeatable)."),
    max_runtime: int = typer.Option(86_400, help="Stop the job after this many seconds."),
    python: str | None = typer.Option(
        None, "--python", help="Interpreter to run the script with, e.g. a virtualenv's bin/python."),
    spec_file: Path | None = typer.Option(None, "--spec", help="A JSON file with the whole job spec."),
) -> None:
    """Run a training job and stream its log; exits 1 if it does not complete.

    Example: podium training run nightly-1 train.py --channel train=data/ --hp C=0.5 --metric "auc=auc=([0-9.]+)"
    """
    from podium.models import parse_spec

    def pairs(items: list[str], what: str) -> dict[str, str]:
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"{what} {item!r} must look like NAME=VALUE")
            out[key] = value
        return out

    spec = json.loads(spec_file.read_text()) if spec_file else {}
    spec.update({"name": name, "entry_point": str(entry_point.resolve())})
    spec.setdefault("channels", {}).update(pairs(channel, "channel"))
    spec.setdefault("hyperparameters", {}).update(pairs(hyperparameter, "hyperparameter"))
    spec.setdefault("metric_definitions", []).extend(
        {"Name": k, "Regex": v} for k, v in pairs(metric, "metric").items()
    )
    spec.setdefault("max_runtime_seconds", max_runtime)
    if python:
        spec["python"] = python
    state = cli_state(ctx)
    printer = None if state.json else (lambda line: state.console.print(line, markup=False, highlight=False))
    result = _jobs(ctx).create(parse_spec(spec), on_log=printer)
    emit(ctx, result, columns=["TrainingJobName", "TrainingJobStatus", "SecondaryStatus", "FailureReason",
                               "FinalMetricDataList", "ModelArtifacts"], title="Training job")
    if result["TrainingJobStatus"] != "Completed":
        raise typer.Exit(1)


@app.command("list")
def list_jobs(ctx: typer.Context, status: str | None = typer.Option(None, help="Filter by status.")) -> None:
    """List training jobs, newest first.

    Example: podium training list --status Failed
    """
    emit(ctx, _jobs(ctx).list_jobs(status), title="Training jobs")


@app.command("describe")
def describe(ctx: typer.Context, name: str) -> None:
    """Describe a training job (DescribeTrainingJob's fields).

    Example: podium training describe nightly-1
    """
    emit(ctx, _jobs(ctx).describe(name), title=name)


@app.command("logs")
def logs(ctx: typer.Context, name: str) -> None:
    """Print a job's stored log.

    Example: podium training logs nightly-1
    """
    typer.echo(_jobs(ctx).logs(name), nl=False)


@app.command("metrics")
def metrics(ctx: typer.Context, name: str) -> None:
    """Print every captured metric value.

    Example: podium --json training metrics nightly-1
    """
    series = _jobs(ctx).metrics(name)
    rows = [{"metric": m, **point} for m, points in series.items() for point in points]
    emit(ctx, rows, columns=["metric", "step", "value", "timestamp"], title=f"Metrics of {name}")


@app.command("stop")
def stop(ctx: typer.Context, name: str) -> None:
    """Ask a running job to stop.

    Example: podium training stop nightly-1
    """
    emit(ctx, _jobs(ctx).stop(name), columns=["TrainingJobName", "TrainingJobStatus", "SecondaryStatus"])


@app.command("retry")
def retry(ctx: typer.Context, name: str) -> None:
    """Run a Failed or Stopped job again; its checkpoint directory is kept.

    Example: podium training retry nightly-1
    """
    result = _jobs(ctx).retry(name)
    emit(ctx, result, columns=["TrainingJobName", "TrainingJobStatus", "Attempt", "FailureReason"])
    if result["TrainingJobStatus"] != "Completed":
        raise typer.Exit(1)
