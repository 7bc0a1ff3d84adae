"""The flagship's quality-gate function."""

from __future__ import annotations

from podium.demo.functions import evaluate


def test_passes_at_or_above_the_threshold() -> None:
    metrics = [{"MetricName": "validation:auc", "Value": 0.71}, {"MetricName": "validation:accuracy", "Value": 0.6}]
    result = evaluate({"metrics": metrics, "metric": "validation:auc", "threshold": 0.7}, None)
    assert result == {"passed": True, "value": 0.71, "reason": "validation:auc 0.7100 >= threshold 0.7000"}


def test_fails_below_the_threshold_with_the_reason() -> None:
    result = evaluate({"metrics": [{"MetricName": "validation:auc", "Value": 0.55}],
                       "metric": "validation:auc", "threshold": 0.7}, None)
    assert result["passed"] is False and result["reason"] == "validation:auc 0.5500 < threshold 0.7000"


def test_a_missing_metric_fails_and_says_what_was_reported() -> None:
    result = evaluate({"metrics": [{"MetricName": "train:loss", "Value": 0.2}],
                       "metric": "validation:auc", "threshold": 0.7}, None)
    assert result["passed"] is False and "train:loss" in result["reason"]
