"""Python functions the example workflows call from Task states, written like AWS Lambda handlers.

Run them with, for example:
    podium workflow run examples/workflows/every_state.json \
        --input @examples/workflows/every_state.input.json \
        --function score=examples/workflows/handlers.py:score
"""

from __future__ import annotations

from typing import Any


class ScoringBusy(Exception):
    """A retryable failure: the error name a Retry can match is the class name."""


def score(event: dict[str, Any], context: Any) -> dict[str, float]:
    """A toy risk score in [0, 1]: large orders with few items look riskier."""
    if event.get("amount") is None:
        raise ValueError("the order has no amount")
    amount = float(event["amount"])
    items = max(1, len(event.get("items", [])))
    return {"score": round(min(1.0, amount / (1000.0 * items)), 3)}


def job_status(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Pretend a job finishes on its third check."""
    return {"status": "DONE" if event.get("checks", 0) >= 2 else "RUNNING"}
