"""The SageMaker inference handler convention: model_fn, input_fn, predict_fn, output_fn.

A model's inference code (its `inference.py`, found in the package's inference spec or in
`code/` inside model.tar.gz, as SageMaker does) may define any of the four; the ones it leaves
out get defaults that serve scikit-learn / joblib models with JSON and CSV.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

JSON = "application/json"
CSV = "text/csv"


class ClientInputError(Exception):
    """The request body cannot be read as the content type says: a 4xx, not a 5xx."""


def default_model_fn(model_dir: str) -> Any:
    folder = Path(model_dir)
    for pattern in ("*.joblib", "*.pkl", "*.pickle"):
        candidates = sorted(folder.rglob(pattern))
        if candidates:
            if candidates[0].suffix == ".joblib":
                import joblib

                return joblib.load(candidates[0])
            with open(candidates[0], "rb") as handle:
                return pickle.load(handle)
    raise FileNotFoundError(f"no *.joblib or *.pkl model file in {model_dir}; define model_fn in inference.py")


def default_input_fn(body: bytes, content_type: str) -> Any:
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == JSON:
            data = json.loads(body)
            if isinstance(data, dict) and "instances" in data:
                data = data["instances"]
            return data
        if kind == CSV:
            rows = [[float(cell) for cell in row] for row in csv.reader(io.StringIO(body.decode()))]
            return rows
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientInputError(f"cannot parse the request body as {kind}: {exc}") from None
    raise ClientInputError(f"unsupported content type {content_type!r}; use {JSON} or {CSV}")


def default_predict_fn(data: Any, model: Any) -> Any:
    import numpy as np

    array = np.asarray(data, dtype=float)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if hasattr(model, "predict_proba"):
        return model.predict_proba(array)[:, -1]
    return model.predict(array)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    if hasattr(prediction, "tolist"):
        prediction = prediction.tolist()
    kind = (accept or JSON).split(";")[0].strip().lower()
    if kind == CSV:
        rows = prediction if isinstance(prediction, list) else [prediction]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow(row if isinstance(row, list) else [row])
        return buffer.getvalue().encode(), CSV
    return json.dumps({"predictions": prediction}).encode(), JSON


@dataclass
class Handler:
    """The four functions, user-defined where given, defaults otherwise."""

    module: ModuleType | None
    model: Any

    def __call__(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        module = self.module
        input_fn = getattr(module, "input_fn", None) or default_input_fn
        predict_fn = getattr(module, "predict_fn", None) or default_predict_fn
        output_fn = getattr(module, "output_fn", None)
        data = input_fn(body, content_type)
        prediction = predict_fn(data, self.model)
        if output_fn is None:
            return default_output_fn(prediction, accept)
        result = output_fn(prediction, accept)
        if isinstance(result, tuple):
            payload, returned_type = result
        else:
            payload, returned_type = result, accept or JSON
        if isinstance(payload, str):
            payload = payload.encode()
        return payload, returned_type


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"podium_inference_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load inference code from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    return module


def load_handler(model_dir: Path, entry_point: Path | None) -> Handler:
    """Find the inference code (explicit entry point, else model_dir/code/inference.py) and load the model."""
    if entry_point is None:
        bundled = model_dir / "code" / "inference.py"
        entry_point = bundled if bundled.exists() else None
    module = load_module(entry_point) if entry_point else None
    model_fn = getattr(module, "model_fn", None) or default_model_fn
    return Handler(module=module, model=model_fn(str(model_dir)))
