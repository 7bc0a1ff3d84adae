"""Real scikit-learn models packed as SageMaker model.tar.gz files, for serving tests."""

from __future__ import annotations

import tarfile
import textwrap
from pathlib import Path

import pytest


def pack_model(folder: Path, *, inference: str | None = None, coef_sign: float = 1.0) -> Path:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = (coef_sign * X[:, 0] > 0).astype(int)
    model_dir = folder / "model"
    model_dir.mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(X, y), model_dir / "model.joblib")
    if inference:
        (model_dir / "code").mkdir()
        (model_dir / "code" / "inference.py").write_text(textwrap.dedent(inference))
    artifact = folder / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return artifact


FLAKY = """
    import itertools, json
    _calls = itertools.count()

    def predict_fn(data, model):
        if next(_calls) % 5 == 0:
            raise RuntimeError("deliberately broken model")
        return model.predict_proba(data)[:, 1]
"""


@pytest.fixture
def good_model(tmp_path: Path) -> Path:
    return pack_model(tmp_path / "good")


@pytest.fixture
def other_good_model(tmp_path: Path) -> Path:
    return pack_model(tmp_path / "good2", coef_sign=-1.0)


@pytest.fixture
def flaky_model(tmp_path: Path) -> Path:
    return pack_model(tmp_path / "flaky", inference=FLAKY)


@pytest.fixture
def switchable_model(tmp_path: Path) -> tuple[Path, Path]:
    """A model that fails one request in five once the returned flag file exists."""
    flag = tmp_path / "break-now"
    inference = f"""
    import itertools, os
    _calls = itertools.count()

    def predict_fn(data, model):
        if os.path.exists({str(flag)!r}) and next(_calls) % 5 == 0:
            raise RuntimeError("deliberately broken model")
        return model.predict_proba(data)[:, 1]
"""
    return pack_model(tmp_path / "switchable", inference=inference), flag


SLOW = """
    import json, time

    def predict_fn(data, model):
        if data == [[9.0, 9.0]]:
            time.sleep(3)
        if data == [[7.0, 7.0]]:
            raise ValueError("seven is not a number this model likes")
        if data == [[5.0, 5.0]]:
            return "five"
        return model.predict_proba(data)[:, 1]

    def output_fn(prediction, accept):
        if isinstance(prediction, str):
            return 5  # neither bytes nor str: the model's error, not the worker's
        return json.dumps({"predictions": prediction.tolist()})
"""


@pytest.fixture
def slow_model(tmp_path: Path) -> Path:
    """Takes 3 s for [[9, 9]], raises for [[7, 7]], answers an int for [[5, 5]], predicts otherwise."""
    return pack_model(tmp_path / "slow", inference=SLOW)
