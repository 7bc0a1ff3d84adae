"""Where Task states run: the `Executor` contract and its local implementation."""

from podium.engine.executors.base import Executor, TaskOutcome, TaskRequest
from podium.engine.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "TaskOutcome", "TaskRequest"]
