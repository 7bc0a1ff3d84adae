"""`podium models`: the model registry — groups, versions, approval, comparison."""

from __future__ import annotations

import getpass
import json

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Model registry: package groups, versions, approval and comparison.",
                  no_args_is_help=True)

VERSION_COLUMNS = ["ModelPackage", "ModelApprovalStatus", "ApprovedBy", "TrainingJobName", "Metrics",
                   "CreationTime"]


def _registry(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from podium.models import ModelRegistry

    return ModelRegistry(cli_state(ctx).store)


@app.command("groups")
def groups(ctx: typer.Context) -> None:
    """List model package groups.

    Example: podium models groups
    """
    emit(ctx, _registry(ctx).list_groups(),
         columns=["ModelPackageGroupName", "Versions", "Description", "CreationTime"], title="Model groups")


@app.command("create-group")
def create_group(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Group name (letters, digits, hyphens)."),
    description: str | None = typer.Option(None, help="What the models in this group predict."),
) -> None:
    """Create a model package group.

    Example: podium models create-group propensity --description "purchase propensity"
    """
    emit(ctx, _registry(ctx).create_group(name, description), title="Model group")


@app.command("register")
def register(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="Model package group."),
    training_job: str | None = typer.Option(None, "--training-job", help="Take artifact and metrics from this job."),
    artifact: str | None = typer.Option(None, "--artifact", help="Model artifact (model.tar.gz) URI."),
    inference: str | None = typer.Option(None, "--inference", help="Inference entry point, e.g. inference.py."),
    source_dir: str | None = typer.Option(None, "--source-dir", help="Folder of the inference code."),
    input_example: str | None = typer.Option(None, "--input-example", help="A request: JSON text or a .json file."),
    output_example: str | None = typer.Option(None, "--output-example", help="Its response: JSON text or a .json file."),
    signature: str | None = typer.Option(
        None, "--signature", help='Schema: {"inputs": [{"name", "type"}], "outputs": [...]}, JSON text or a .json file.'),
    description: str | None = typer.Option(None, help="Free text."),
) -> None:
    """Register a new model version (PendingManualApproval).

    Example: podium models register propensity --training-job nightly-2024-01-01 --inference inference.py
    """
    inference_spec = {k: v for k, v in {"entry_point": inference, "source_dir": source_dir}.items() if v}
    emit(ctx, _registry(ctx).register(
        group, training_job=training_job, artifact_uri=artifact, description=description,
        inference=inference_spec or None, input_example=_json_option("--input-example", input_example),
        output_example=_json_option("--output-example", output_example),
        signature=_json_option("--signature", signature),
    ), title="Model version")


def _json_option(option: str, value: str | None) -> object:
    """JSON given inline, or the path of a .json file."""
    from pathlib import Path

    from podium.errors import ValidationError

    if value is None:
        return None
    text = value
    if value.endswith(".json") and not value.lstrip().startswith(("{", "[")):
        path = Path(value)
        if not path.is_file():
            raise ValidationError(f"{option}: file {value} does not exist")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{option}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


@app.command("list")
def list_versions(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="Model package group."),
    status: str | None = typer.Option(None, help="PendingManualApproval, Approved or Rejected."),
) -> None:
    """List the versions of a group.

    Example: podium models list propensity --status Approved
    """
    emit(ctx, _registry(ctx).list_versions(group, status), columns=VERSION_COLUMNS, title=f"Versions of {group}")


@app.command("describe")
def describe(ctx: typer.Context, version: str = typer.Argument(..., help="Model version as group/N.")) -> None:
    """Show one model version.

    Example: podium models describe propensity/3
    """
    from podium.models import parse_ref

    emit(ctx, _registry(ctx).describe(*parse_ref(version)), title=version)


def _change(ctx: typer.Context, version: str, status: str, by: str | None, reason: str | None) -> None:
    from podium.models import parse_ref

    who = by or getpass.getuser()
    emit(ctx, _registry(ctx).set_approval(*parse_ref(version), status, by=who, reason=reason), title=version)


@app.command("approve")
def approve(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="Model version as group/N."),
    by: str | None = typer.Option(None, help="Who approves (default: your user name)."),
    reason: str | None = typer.Option(None, help="Why."),
) -> None:
    """Approve a model version (emits a Model Package State Change event).

    Example: podium models approve propensity/3 --reason "AUC 0.82 >= 0.75"
    """
    _change(ctx, version, "Approved", by, reason)


@app.command("reject")
def reject(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="Model version as group/N."),
    by: str | None = typer.Option(None, help="Who rejects (default: your user name)."),
    reason: str | None = typer.Option(None, help="Why."),
) -> None:
    """Reject a model version (emits a Model Package State Change event).

    Example: podium models reject propensity/3 --reason "drift in feature x"
    """
    _change(ctx, version, "Rejected", by, reason)


@app.command("compare")
def compare(
    ctx: typer.Context,
    first: str = typer.Argument(..., help="Model version as group/N."),
    second: str = typer.Argument(..., help="Model version as group/N."),
) -> None:
    """Show metrics and hyperparameters of two versions side by side.

    Example: podium models compare propensity/2 propensity/3
    """
    compared = _registry(ctx).compare(first, second)
    state = cli_state(ctx)
    if state.json:
        emit(ctx, compared)
        return
    emit(ctx, compared["metrics"], columns=["name", first, second], title="Metrics")
    emit(ctx, compared["hyperparameters"], columns=["name", first, second], title="Hyperparameters")


@app.command("events")
def events(ctx: typer.Context, after: int = typer.Option(0, help="Only events with a larger id.")) -> None:
    """Model approval events, oldest first.

    Example: podium --json models events --after 10
    """
    rows = _registry(ctx).events(after)
    for row in rows:
        row["detail"] = json.dumps(row["detail"])
    emit(ctx, rows, columns=["id", "time", "resources", "detail"], title="Model events")


@app.command("export-mlflow")
def export_mlflow(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="Model version as group/N."),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="MLflow tracking store to register into, e.g. sqlite:///mlflow.db "
        "(default: MLflow's own, from MLFLOW_TRACKING_URI, unless --output is given)."),
    output: str | None = typer.Option(None, "--output", help="Also (or only) write an MLflow model directory here."),
    name: str | None = typer.Option(None, "--name", help="Registered model name (default: the group)."),
    experiment: str = typer.Option("podium", help="MLflow experiment for the export run."),
) -> None:
    """Export a model version to MLflow (needs the [mlflow] extra).

    Registers it as a version of an MLflow registered model, with hyperparameters, metrics and
    Podium's approval in tags, and/or writes an MLflow model directory.

    Example: podium models export-mlflow propensity/3 --tracking-uri sqlite:///mlflow.db
    """
    from podium.models.mlflow_export import export_mlflow as export

    emit(ctx, export(cli_state(ctx).store, version, output=output, tracking_uri=tracking_uri,
                     registered_model_name=name, experiment=experiment), title=f"{version} in MLflow")
