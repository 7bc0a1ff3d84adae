"""The flagship scenario, run for real: two nights of retraining on replayed MovieLens data.

Night A is started at once (as the midnight schedule would start it); night B is started by
its transactions file arriving in the landing folder (folder watcher → event rule → workflow).
Each night is one execution of examples/nightly-retrain/workflow.asl.json on the durable
engine. Every figure in the result is read back from what the services recorded (batch runs,
quarantine files, delivery counts, feature ingestions, training metrics, the registry, the
deployment history, lineage). A stage whose capability is missing is reported as not built,
with the reason; a stage that fails is reported failed, with the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console


@dataclass(frozen=True)
class DemoOptions:
    """Size knobs: the CLI uses the defaults; tests run a small slice."""

    users: int | None = None  # keep only users with id <= this (None: all 671)
    nights: int = 2  # nights replayed per demo run
    min_night_rows: int = 100  # a replayed night is a day with at least this many ratings
    clickstream_days: int = 30  # history days before the first night that also get clickstream
    max_iter: int = 60
    threshold: float = 0.65  # validation AUC the quality gate asks for
    validation_days: int = 30  # the validation set: ratings of the last days up to tonight
    canary_seconds: int = 4
    predictions: int = 5

    @classmethod
    def small(cls) -> DemoOptions:
        """The same scenario on a slice (users 1-100, short training): what the e2e test runs."""
        return cls(users=100, min_night_rows=30, clickstream_days=60, max_iter=10, threshold=0.55,
                   validation_days=365, canary_seconds=2, predictions=3)


@dataclass
class StageResult:
    stage: str
    status: str  # done | failed | not built yet
    summary: str
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "summary": self.summary,
                "seconds": round(self.seconds, 2)}


STAGES = ("trigger", "orchestration", "batch job", "streaming", "features", "training", "evaluation",
          "register + deploy", "predictions", "report")


def run_demo(home: Path, console: Console | None = None, options: DemoOptions | None = None) -> dict[str, Any]:
    """Run the scenario against PODIUM_HOME `home`; returns the stages and everything measured."""
    from podium.demo.run import DemoRun

    run = DemoRun(Path(home), console, options or DemoOptions())
    return run.execute()


__all__ = ["STAGES", "DemoOptions", "StageResult", "run_demo"]
