"""Export of model versions to MLflow: a model directory, and a registered version in a local
sqlite tracking store, with Podium's hyperparameters, metrics and approval."""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from podium.config import Settings
from podium.errors import ConflictError, MissingDependencyError, ValidationError
from podium.models import ModelRegistry, TrainingJobs
from podium.models.mlflow_export import export_mlflow
from podium.store import Store

needs_mlflow = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None,
    reason="mlflow is not installed (pip install 'podium[mlflow]')",
)
ROWS = pd.DataFrame({"spend": [0.1, 2.5, -1.0, 3.3], "visits": [1, 4, 0, 7]})


def pack(folder: Path, files: dict[str, object]) -> Path:
    """A SageMaker-style model.tar.gz holding `files` (joblib-dumped objects or bytes)."""
    import joblib

    folder.mkdir(parents=True)
    artifact = folder / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                joblib.dump(content, path)
            archive.add(path, arcname=name)
    return artifact


@pytest.fixture
def model() -> object:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"spend": rng.normal(size=200), "visits": rng.integers(0, 9, size=200)})
    return LogisticRegression().fit(X, (X["spend"] + 0.1 * X["visits"] > 0.4).astype(int))


@pytest.fixture
def registry(store: Store, model: object, tmp_path: Path) -> ModelRegistry:
    registry = ModelRegistry(store)
    registry.create_group("churn")
    registry.register("churn", artifact_uri=str(pack(tmp_path / "v1", {"model.joblib": model})),
                      metrics={"validation:auc": 0.81}, hyperparameters={"C": "1.0"},
                      input_example=ROWS.head(2).to_dict(orient="records"), description="first")
    return registry


@needs_mlflow
def test_model_directory_loads_in_mlflow_and_predicts_like_the_original(
    store: Store, registry: ModelRegistry, model: object, tmp_path: Path
) -> None:
    import mlflow
    import yaml

    result = export_mlflow(store, "churn/1", output=tmp_path / "exported")
    folder = Path(result["MlflowModelDir"])
    loaded = mlflow.pyfunc.load_model(str(folder))
    assert list(loaded.predict(ROWS)) == list(model.predict(ROWS))  # type: ignore[attr-defined]
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    assert spec["metadata"]["podium"]["podium.model_package"] == "churn/1"
    assert spec["metadata"]["podium"]["podium.approval_status"] == "PendingManualApproval"
    assert [c["name"] for c in json.loads(spec["signature"]["inputs"])] == ["spend", "visits"]
    assert "RegisteredModelName" not in result  # a directory only: nothing registered
    with pytest.raises(ConflictError, match="not empty"):
        export_mlflow(store, "churn/1", output=folder)


@needs_mlflow
@pytest.mark.slow
def test_registers_versions_with_metrics_params_and_approval(
    settings: Settings, store: Store, registry: ModelRegistry, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import os, joblib
        from sklearn.dummy import DummyClassifier
        for epoch in range(3):
            print(f"epoch={epoch} loss={1.0 / (epoch + 1):.3f}")
        joblib.dump(DummyClassifier().fit([[0, 0], [1, 1]], [0, 1]),
                    os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    '''))
    TrainingJobs(settings, store).create({
        "name": "churn-2", "entry_point": str(script), "hyperparameters": {"depth": 3},
        "metric_definitions": [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}],
    })
    registry.register("churn", training_job="churn-2")
    registry.approve("churn", 1, by="ana", reason="auc ok")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    first = export_mlflow(store, "churn/1", tracking_uri=uri, registered_model_name="churn-model")
    second = export_mlflow(store, "churn/2", tracking_uri=uri, registered_model_name="churn-model")
    assert (first["RegisteredModelVersion"], second["RegisteredModelVersion"]) == (1, 2)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    v1 = client.get_model_version("churn-model", "1")
    assert v1.tags["podium.model_package"] == "churn/1"
    assert v1.tags["podium.approval_status"] == "Approved" and v1.tags["podium.approved_by"] == "ana"
    assert str(client.get_model_version_by_alias("churn-model", "approved").version) == "1"
    run = client.get_run(first["RunId"])
    assert run.data.params == {"C": "1.0"} and run.data.metrics == {"validation:auc": 0.81}
    history = client.get_metric_history(second["RunId"], "train:loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.333)]
    assert client.get_run(second["RunId"]).data.params == {"depth": "3"}

    again = export_mlflow(store, "churn/1", tracking_uri=uri, registered_model_name="churn-model")
    assert again["AlreadyExported"] is True and again["RegisteredModelVersion"] == 1
    assert len(client.search_model_versions("name = 'churn-model'")) == 2


@needs_mlflow
def test_artifacts_without_a_model_file_are_refused_clearly(
    store: Store, registry: ModelRegistry, tmp_path: Path
) -> None:
    registry.register("churn", artifact_uri=str(pack(tmp_path / "v2", {"weights.bin": b"\x00"})))
    with pytest.raises(ValidationError, match=r"no model.joblib .* \(it has: weights.bin\)"):
        export_mlflow(store, "churn/2", output=tmp_path / "out")
    registry.register("churn", artifact_uri=str(pack(tmp_path / "v3", {"model.joblib": {"not": "a model"}})))
    with pytest.raises(ValidationError, match="no predict method"):
        export_mlflow(store, "churn/3", output=tmp_path / "out")


def test_without_mlflow_the_error_names_the_extra(
    store: Store, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'podium\[mlflow\]'"):
        export_mlflow(store, "churn/1", output="unused")


@needs_mlflow
def test_cli_writes_a_model_directory(settings: Settings, registry: ModelRegistry, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from podium.cli.main import app

    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(settings.home))
    result = CliRunner().invoke(app, ["--json", "models", "export-mlflow", "churn/1", "--output", "mlflow-model"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["MlflowModelDir"] == str((tmp_path / "mlflow-model").resolve())
    assert (tmp_path / "mlflow-model" / "MLmodel").is_file()
