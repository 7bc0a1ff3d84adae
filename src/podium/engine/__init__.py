"""Durable workflow executions: state machines, executions, history, workers, redrive.

`Engine(settings, store)` is the API (`podium.engine.service`); `Worker(engine)` runs the
executions (`podium.engine.worker`). The ASL interpreter itself is `podium.asl.step`: this
package persists its run states and history and performs the actions it asks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for type checkers; at run time they load on first use
    from podium.engine.service import Engine
    from podium.engine.worker import Worker

__all__ = ["Engine", "Worker"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `podium --help` does not import SQLAlchemy models and the interpreter.
    if name == "Engine":
        from podium.engine.service import Engine

        return Engine
    if name == "Worker":
        from podium.engine.worker import Worker

        return Worker
    raise AttributeError(f"module 'podium.engine' has no attribute {name!r}")
