"""Training jobs run SageMaker script-mode scripts unchanged, with SageMaker's environment."""

from __future__ import annotations

import json
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from podium.config import Settings
from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.models import TrainingJobs
from podium.store import Store

SKLEARN_SCRIPT = textwrap.dedent('''
    import argparse, json, os
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()

    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",")
    X, y = data[:, :-1], data[:, -1]
    for epoch in range(args.epochs):
        model = LogisticRegression(C=args.C, max_iter=50 * (epoch + 1)).fit(X, y)
        print(f"epoch={epoch} train_accuracy={model.score(X, y):.4f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "env.json"), "w") as f:
        json.dump({k: v for k, v in os.environ.items() if k.startswith("SM_")}, f)
''')


@pytest.fixture
def jobs(settings: Settings, store: Store) -> TrainingJobs:
    return TrainingJobs(settings, store)


@pytest.fixture
def train_channel(tmp_path: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    folder = tmp_path / "train"
    folder.mkdir()
    np.savetxt(folder / "train.csv", np.column_stack([X, y]), delimiter=",")
    return folder


def write_script(tmp_path: Path, body: str, name: str = "train.py") -> Path:
    path = tmp_path / "code" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_sklearn_script_trains_and_reports_metrics(jobs: TrainingJobs, tmp_path: Path,
                                                   train_channel: Path) -> None:
    script = write_script(tmp_path, SKLEARN_SCRIPT)
    logs: list[str] = []
    result = jobs.create({
        "name": "propensity-1",
        "entry_point": script.name,
        "source_dir": str(script.parent),
        "hyperparameters": {"C": 0.5, "epochs": 3},
        "channels": {"train": str(train_channel)},
        "metric_definitions": [{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+)"}],
    }, on_log=logs.append)
    assert result["TrainingJobStatus"] == "Completed", result.get("FailureReason")
    assert any("train_accuracy" in line for line in logs)

    series = jobs.metrics("propensity-1")["train:accuracy"]
    assert [point["step"] for point in series] == [0, 1, 2]
    assert all(0.5 < point["value"] <= 1.0 for point in series)
    final = {m["MetricName"]: m["Value"] for m in result["FinalMetricDataList"]}
    assert final["train:accuracy"] == series[-1]["value"]

    artifact = Path(result["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(artifact) as archive:
        assert archive.getnames() == ["model.joblib"]
    import hashlib

    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == result["ModelArtifacts"]["Sha256"]

    env = json.loads((Path(jobs.root) / "propensity-1" / "output" / "data" / "env.json").read_text())
    assert env["SM_CHANNEL_TRAIN"] == str(train_channel.resolve())
    assert json.loads(env["SM_HPS"]) == {"C": "0.5", "epochs": "3"}
    assert env["SM_CURRENT_HOST"] == "algo-1" and int(env["SM_NUM_CPUS"]) >= 1
    assert json.loads(env["SM_USER_ARGS"]) == ["--C", "0.5", "--epochs", "3"]
    assert "epoch=2 train_accuracy=" in jobs.logs("propensity-1")


def test_failing_script_gives_exit_code_and_last_lines(jobs: TrainingJobs, tmp_path: Path) -> None:
    script = write_script(tmp_path, '''
        import sys
        print("loading data")
        raise SystemExit("column 'rating' is missing")
    ''')
    result = jobs.create({"name": "broken", "entry_point": str(script)})
    assert result["TrainingJobStatus"] == "Failed"
    assert result["ExitCode"] == 1
    assert "exit code 1" in result["FailureReason"]
    assert "column 'rating' is missing" in result["FailureReason"]
    assert "loading data" in result["FailureReason"]
    assert "ModelArtifacts" not in result


def test_failure_file_is_part_of_the_reason(jobs: TrainingJobs, tmp_path: Path) -> None:
    script = write_script(tmp_path, '''
        import os
        with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
            f.write("not enough rows to train: 3 < 100")
        raise SystemExit(3)
    ''')
    result = jobs.create({"name": "too-small", "entry_point": str(script)})
    assert "not enough rows to train" in result["FailureReason"]
    assert result["ExitCode"] == 3


def test_max_runtime_stops_a_hanging_script(jobs: TrainingJobs, tmp_path: Path) -> None:
    script = write_script(tmp_path, '''
        import time
        print("starting", flush=True)
        while True:
            time.sleep(0.1)
    ''')
    started = time.monotonic()
    result = jobs.create({"name": "hangs", "entry_point": str(script), "max_runtime_seconds": 1,
                          "stop_grace_seconds": 0.5})
    assert time.monotonic() - started < 15
    assert result["TrainingJobStatus"] == "Stopped"
    assert result["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "MaxRuntimeInSeconds" in result["FailureReason"]


def test_stop_on_request(jobs: TrainingJobs, tmp_path: Path) -> None:
    script = write_script(tmp_path, '''
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: (print("got SIGTERM", flush=True), sys.exit(0)))
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    ''')
    jobs.create({"name": "long", "entry_point": str(script)}, wait=False)
    deadline = time.monotonic() + 10
    while "ready" not in jobs.logs("long") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "ready" in jobs.logs("long")  # the stored log is readable while the job runs
    assert jobs.describe("long")["TrainingJobStatus"] == "InProgress"
    jobs.stop("long")
    result = jobs.wait("long", timeout=15)
    assert result["TrainingJobStatus"] == "Stopped"
    assert result["SecondaryStatus"] == "Stopped"
    assert "got SIGTERM" in jobs.logs("long")


def test_retry_sees_checkpoints_of_the_failed_attempt(jobs: TrainingJobs, tmp_path: Path) -> None:
    script = write_script(tmp_path, '''
        import os
        ckpt = os.path.join(os.environ["SM_CHECKPOINT_DIR"], "epoch.txt")
        done = int(open(ckpt).read()) if os.path.exists(ckpt) else 0
        print(f"resuming from epoch {done}")
        for epoch in range(done, 5):
            open(ckpt, "w").write(str(epoch + 1))
            if epoch == 2 and done == 0:
                raise SystemExit("spot instance reclaimed")
        open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("5 epochs")
    ''')
    first = jobs.create({"name": "resumable", "entry_point": str(script)})
    assert first["TrainingJobStatus"] == "Failed"
    second = jobs.retry("resumable")
    assert second["TrainingJobStatus"] == "Completed"
    assert second["Attempt"] == 2
    assert "resuming from epoch 3" in jobs.logs("resumable")


def test_names_and_specs_are_checked(jobs: TrainingJobs, tmp_path: Path) -> None:
    script = write_script(tmp_path, "print('ok')\n")
    with pytest.raises(ValidationError, match="name"):
        jobs.create({"name": "bad name!", "entry_point": str(script)})
    with pytest.raises(ValidationError, match="capture group"):
        jobs.create({"name": "x", "entry_point": str(script),
                     "metric_definitions": [{"Name": "loss", "Regex": "loss=[0-9]+"}]})
    with pytest.raises(ValidationError, match="does not exist"):
        jobs.create({"name": "y", "entry_point": str(tmp_path / "missing.py")})
    jobs.create({"name": "ok", "entry_point": str(script)})
    with pytest.raises(ConflictError):
        jobs.create({"name": "ok", "entry_point": str(script)})
    with pytest.raises(ConflictError, match="only Failed or Stopped"):
        jobs.retry("ok")
    with pytest.raises(NotFoundError):
        jobs.describe("never")


def test_script_runs_with_the_interpreter_given(jobs: TrainingJobs, tmp_path: Path) -> None:
    import stat
    import sys

    wrapper = tmp_path / "venv-python"
    wrapper.write_text(f'#!/bin/sh\nPODIUM_WRAPPED=yes exec "{sys.executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    script = write_script(tmp_path, '''
        import os
        print("wrapped=" + os.environ.get("PODIUM_WRAPPED", "no"))
    ''')
    result = jobs.create({"name": "own-python", "entry_point": str(script), "python": str(wrapper)})
    assert result["TrainingJobStatus"] == "Completed", result.get("FailureReason")
    assert "wrapped=yes" in jobs.logs("own-python")
