"""Purchase-propensity (rate-it-highly) model: a SageMaker script-mode training script.

It runs unchanged on SageMaker or as a Podium training job: data from SM_CHANNEL_TRAIN and
SM_CHANNEL_VALIDATION (Parquet or CSV files), hyperparameters as command-line arguments, the
model saved to SM_MODEL_DIR, metrics printed for the metric definitions to pick up.
"""

import argparse
import json
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score


def read_channel(folder: str) -> pd.DataFrame:
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix in (".parquet", ".csv"))
    if not files:
        raise SystemExit(f"no .parquet or .csv files in {folder}")
    frames = [pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for p in files]
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning-rate", "--learning_rate", type=float, default=0.1)
    parser.add_argument("--max-iter", "--max_iter", type=int, default=100)
    parser.add_argument("--max-depth", "--max_depth", type=int, default=6)
    parser.add_argument("--label", default="label")
    parser.add_argument("--exclude", default="", help="comma-separated columns that are not features (ids)")
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args = parser.parse_args()

    train = read_channel(args.train)
    validation = read_channel(args.validation) if args.validation else train.sample(frac=0.2, random_state=0)
    excluded = {args.label, *filter(None, args.exclude.split(","))}
    # Numeric columns that vary: a column that is constant (or all missing) in training teaches nothing.
    features = [c for c in train.columns if c not in excluded and pd.api.types.is_numeric_dtype(train[c])
                and train[c].nunique() > 1]
    train[features] = train[features].astype(float)
    validation[features] = validation[features].astype(float)
    print(f"training on {len(train)} rows, validating on {len(validation)}, {len(features)} features")

    model = HistGradientBoostingClassifier(learning_rate=args.learning_rate, max_depth=args.max_depth,
                                           max_iter=1, warm_start=True, random_state=0)
    step = max(1, args.max_iter // 10)
    for n in range(step, args.max_iter + 1, step):
        model.set_params(max_iter=n)
        model.fit(train[features], train[args.label])
        scores = model.predict_proba(validation[features])[:, 1]
        auc = roc_auc_score(validation[args.label], scores)
        accuracy = accuracy_score(validation[args.label], scores >= 0.5)
        print(f"iteration={n} validation:auc={auc:.4f} validation:accuracy={accuracy:.4f}", flush=True)

    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    with open(os.path.join(args.model_dir, "features.json"), "w") as handle:
        json.dump(features, handle)


if __name__ == "__main__":
    main()
