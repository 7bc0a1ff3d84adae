"""SageMaker inference handlers for the propensity model: JSON records in, probabilities out.

Accepts {"instances": [{"feature": value, ...}, ...]} (missing features count as unknown)
or a list of such records.
"""

import json
import os

import joblib
import pandas as pd


def model_fn(model_dir):
    model = joblib.load(os.path.join(model_dir, "model.joblib"))
    with open(os.path.join(model_dir, "features.json")) as handle:
        features = json.load(handle)
    return {"model": model, "features": features}


def input_fn(body, content_type):
    if not content_type.startswith("application/json"):
        raise ValueError(f"unsupported content type {content_type}; send application/json")
    data = json.loads(body)
    records = data["instances"] if isinstance(data, dict) else data
    return pd.DataFrame.from_records(records)


def predict_fn(frame, bundle):
    features = bundle["features"]
    frame = frame.reindex(columns=features).astype(float)
    return bundle["model"].predict_proba(frame)[:, 1]


def output_fn(prediction, accept):
    return json.dumps({"predictions": [round(float(p), 6) for p in prediction]}), "application/json"
