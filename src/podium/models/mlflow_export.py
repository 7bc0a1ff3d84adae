"""Export a model version to MLflow (the optional `[mlflow]` extra), for teams that use it.

Two targets, usable together:

* an **MLflow model directory** (`output=`): `MLmodel`, the model, its signature and input
  example, loadable with `mlflow.pyfunc.load_model(path)` or `mlflow.sklearn.load_model(path)`;
* an **MLflow tracking store** (`tracking_uri=`, e.g. `sqlite:///mlflow.db`): a run in the
  experiment with the version's hyperparameters as params, its metrics (the training job's whole
  series when there is one) and the model as the run's `model` artifact, registered as a new
  version of the registered model. Podium's approval status, approver, artifact checksum and
  training job go in tags; an Approved version also gets the `approved` alias.

Exporting the same Podium version again to the same registered model returns the MLflow version
made the first time (found by its `podium.model_package` and `podium.artifact_sha256` tags).

The model must be a scikit-learn-compatible object saved with joblib or pickle in the artifact
(`model.joblib`, `model.pkl`, ...), as SageMaker's scikit-learn scripts save it. It is stored with
the cloudpickle serialisation, so no extra package is needed to load it.
"""

from __future__ import annotations

import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from podium.errors import ConflictError, MissingDependencyError, ValidationError
from podium.models.registry import ModelRegistry, parse_ref
from podium.store import Store
from podium.store.tables.models import models_training_metrics

MODEL_FILES = ("model.joblib", "model.pkl", "model.pickle")
APPROVED_ALIAS = "approved"


def _mlflow() -> Any:
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError:
        raise MissingDependencyError.for_extra("mlflow", "mlflow", "Exporting to MLflow") from None
    return mlflow


def export_mlflow(
    store: Store,
    reference: str,
    *,
    output: str | Path | None = None,
    tracking_uri: str | None = None,
    registered_model_name: str | None = None,
    experiment: str = "podium",
) -> dict[str, Any]:
    """Export model version `reference` (`group/N`): to the MLflow model directory `output`,
    and/or registered in the tracking store at `tracking_uri` (MLflow's default store when
    neither is given). Returns where it went."""
    mlflow = _mlflow()
    version = ModelRegistry(store).describe(*parse_ref(reference))
    name = registered_model_name or version["ModelPackageGroupName"]
    result: dict[str, Any] = {"ModelPackage": version["ModelPackage"]}
    with tempfile.TemporaryDirectory(prefix="podium-mlflow-") as scratch:
        model = _load_model(version, Path(scratch) / "artifact")
        saved = Path(scratch) / "mlflow-model"
        _save(mlflow, model, version, saved)
        if output is not None:
            target = Path(output)
            if target.exists() and any(target.iterdir()):
                raise ConflictError(f"MLflow model directory {target} exists and is not empty")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.rmdir()
            shutil.copytree(saved, target)
            result["MlflowModelDir"] = str(target.resolve())
        if output is None or tracking_uri is not None:
            result.update(_register(mlflow, store, version, saved, tracking_uri, name, experiment))
    return result


def _load_model(version: dict[str, Any], folder: Path) -> Any:
    """Unpack the version's model.tar.gz and load the model object it holds."""
    artifact = Path(str(version["ArtifactUri"]).removeprefix("file://"))
    if not artifact.is_file():
        raise ValidationError(
            f"model version {version['ModelPackage']}: artifact {artifact} is not a local file"
        )
    folder.mkdir(parents=True)
    try:
        with tarfile.open(artifact) as archive:
            archive.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ValidationError(f"model version {version['ModelPackage']}: cannot unpack {artifact}: {exc}") from None
    found = [folder / n for n in MODEL_FILES if (folder / n).is_file()]
    if not found:
        present = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        raise ValidationError(
            f"model version {version['ModelPackage']}: the artifact holds no {' / '.join(MODEL_FILES)} "
            f"to export (it has: {', '.join(present) or 'nothing'})"
        )
    if found[0].suffix == ".joblib":
        import joblib

        model = joblib.load(found[0])
    else:
        with open(found[0], "rb") as handle:
            model = pickle.load(handle)  # the registry's own artifact, written by its training job
    if not callable(getattr(model, "predict", None)):
        raise ValidationError(
            f"model version {version['ModelPackage']}: {found[0].name} holds a "
            f"{type(model).__name__}, which has no predict method to serve through MLflow"
        )
    return model


def _save(mlflow: Any, model: Any, version: dict[str, Any], path: Path) -> None:
    import cloudpickle
    import sklearn

    example = _example_frame(version.get("InputExample"))
    signature = None
    if example is not None:
        try:
            signature = mlflow.models.infer_signature(example, model.predict(example))
        except Exception as exc:  # an example the model cannot score is a registry mistake
            raise ValidationError(
                f"model version {version['ModelPackage']}: its input example cannot be scored: {exc}"
            ) from None
    mlflow.sklearn.save_model(
        model, str(path), serialization_format="cloudpickle", signature=signature,
        input_example=example,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"cloudpickle=={cloudpickle.__version__}"],
        metadata={"podium": _podium_tags(version)},
    )


def _example_frame(example: Any) -> Any:
    if example is None:
        return None
    import pandas as pd

    if isinstance(example, dict):
        example = [example]
    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        return pd.DataFrame(example)
    if isinstance(example, list) and example and all(isinstance(r, list) for r in example):
        return pd.DataFrame(example)
    raise ValidationError("the input example must be a record, a list of records or a list of rows")


def _podium_tags(version: dict[str, Any]) -> dict[str, str]:
    tags = {
        "podium.model_package": version["ModelPackage"],
        "podium.approval_status": version["ModelApprovalStatus"],
        "podium.artifact_uri": str(version["ArtifactUri"]),
        "podium.artifact_sha256": version["ArtifactSha256"] or "",
        "podium.training_job": version["TrainingJobName"] or "",
        "podium.approved_by": version["ApprovedBy"] or "",
    }
    if version["InferenceSpecification"]:
        tags["podium.inference"] = str(version["InferenceSpecification"])
    return tags


def _artifact_location(tracking_uri: str | None) -> str | None:
    """Beside a SQLite tracking database (`<folder>/mlartifacts`), not MLflow's default of
    `./mlruns` in whatever directory the command happens to run from."""
    if tracking_uri and tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri.removeprefix("sqlite:///")).expanduser()
        return (database.resolve().parent / "mlartifacts").as_uri()
    return None


def _register(
    mlflow: Any, store: Store, version: dict[str, Any], saved: Path, tracking_uri: str | None,
    name: str, experiment: str,
) -> dict[str, Any]:
    from mlflow.exceptions import MlflowException

    try:
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        tags = _podium_tags(version)
        existing = _already_exported(client, name, tags)
        if existing is not None:
            return {**_where(mlflow, existing, tracking_uri), "AlreadyExported": True}
        found = client.get_experiment_by_name(experiment)
        experiment_id = (found.experiment_id if found else
                         client.create_experiment(experiment, artifact_location=_artifact_location(tracking_uri)))
        run = client.create_run(experiment_id, tags=tags,
                                run_name=version["ModelPackage"].replace("/", "-v"))
        run_id = run.info.run_id
        for key, value in (version["HyperParameters"] or {}).items():
            client.log_param(run_id, key, str(value)[:6000])
        series = _metric_series(store, version["TrainingJobName"])
        for key, value in (version["Metrics"] or {}).items():
            if key not in series and isinstance(value, int | float):
                client.log_metric(run_id, key, float(value))
        for key, points in series.items():
            for step, value in points:
                client.log_metric(run_id, key, value, step=step)
        client.log_artifacts(run_id, str(saved), "model")
        client.set_terminated(run_id)
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, tags={"podium.model_package_group": version["ModelPackageGroupName"]})
        created = client.create_model_version(
            name, source=f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags,
            description=version["Description"],
        )
        if version["ModelApprovalStatus"] == "Approved":
            client.set_registered_model_alias(name, APPROVED_ALIAS, created.version)
        return {**_where(mlflow, created, tracking_uri), "ExperimentId": experiment_id, "RunId": run_id,
                "AlreadyExported": False}
    except MlflowException as exc:
        raise ValidationError(f"MLflow ({tracking_uri or 'default tracking URI'}): {exc.message}") from None


def _already_exported(client: Any, name: str, tags: dict[str, str]) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    for candidate in versions:
        given = candidate.tags or {}
        if (given.get("podium.model_package") == tags["podium.model_package"]
                and given.get("podium.artifact_sha256") == tags["podium.artifact_sha256"]):
            return candidate
    return None


def _where(mlflow: Any, model_version: Any, tracking_uri: str | None) -> dict[str, Any]:
    return {
        "TrackingUri": tracking_uri or mlflow.get_tracking_uri(),
        "RegisteredModelName": model_version.name,
        "RegisteredModelVersion": int(model_version.version),
        "ModelUri": f"models:/{model_version.name}/{model_version.version}",
        "Source": model_version.source,
        "RunId": model_version.run_id,
    }


def _metric_series(store: Store, job: str | None) -> dict[str, list[tuple[int, float]]]:
    if not job:
        return {}
    series: dict[str, list[tuple[int, float]]] = {}
    with store.connect() as conn:
        rows = conn.execute(
            select(models_training_metrics.c.metric, models_training_metrics.c.step,
                   models_training_metrics.c.value)
            .where(models_training_metrics.c.job_name == job)
            .order_by(models_training_metrics.c.metric, models_training_metrics.c.step)
        )
        for row in rows:
            series.setdefault(row.metric, []).append((row.step, row.value))
    return series

