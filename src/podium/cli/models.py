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
    description: str | None = typer.Option(None, help="Free text."),
) -> None:
    """Register a new model version (PendingManualApproval).

    Example: podium models register propensity --training-job nightly-2024-01-01
    """
    emit(ctx, _registry(ctx).register(
        group, training_job=training_job, artifact_uri=artifact, description=description,
        inference={"entry_point": inference} if inference else None,
    ), title="Model version")


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
