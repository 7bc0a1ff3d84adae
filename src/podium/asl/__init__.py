"""Amazon States Language: compile definitions, step executions, run them in memory.

Public API: `compile_definition`, `execute`, `Execution`; the step-function interface for
the durable engine lives in `podium.asl.step`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Execution", "compile_definition", "execute"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that the expression modules stay importable on their own.
    if name in ("execute", "Execution"):
        from podium.asl import runner

        return getattr(runner, name)
    if name == "compile_definition":
        from podium.asl.definition import compile_definition

        return compile_definition
    raise AttributeError(f"module 'podium.asl' has no attribute {name!r}")
