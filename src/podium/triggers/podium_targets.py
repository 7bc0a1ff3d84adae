"""The targets a running Podium offers: its workflows, functions and streams, by reference.

Schedules and rule targets name a target. Besides names registered in code, a
`PodiumTargets` registry resolves references to Podium's own resources, in a short form or
as the ARN AWS would use, so `podium schedule create ... --target workflow:retrain` works
without registering anything:

| reference | target |
|---|---|
| `workflow:NAME[:VERSION or ALIAS]`, `arn:aws:states:...:stateMachine:NAME` | start an execution (`WorkflowTarget`) |
| `function:NAME`, `arn:aws:lambda:...:function:NAME` | invoke a registered function (`FunctionTarget`) |
| `stream:NAME`, `arn:aws:kinesis:...:stream/NAME` | put the payload on a stream (`StreamTarget`) |

A reference is resolved when first used, so a workflow created after the schedule is found;
an unknown workflow or function then fails the delivery attempt (it is retried, then
dead-lettered with the engine's message) rather than the lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from podium.errors import NotFoundError
from podium.triggers.targets import (
    FunctionTarget,
    StreamTarget,
    Target,
    TargetRegistry,
    WorkflowTarget,
)

_KINDS = ("workflow", "function", "stream")


def parse_reference(name: str) -> tuple[str, str] | None:
    """(kind, resource name) for a reference to a workflow, function or stream, else None."""
    kind, _, rest = name.partition(":")
    if kind in _KINDS and rest:
        return kind, rest
    if name.startswith("arn:aws:states:") and ":stateMachine:" in name:
        return "workflow", name
    if name.startswith("arn:aws:lambda:") and ":function:" in name:
        function = name.split(":function:", 1)[1].split(":", 1)[0]
        return ("function", function) if function else None
    if name.startswith("arn:aws:kinesis:") and ":stream/" in name:
        stream = name.split(":stream/", 1)[1]
        return ("stream", stream) if stream else None
    return None


class PodiumTargets(TargetRegistry):
    """A TargetRegistry that also resolves `workflow:`, `function:` and `stream:` references.

    Each backend is built on first use from a factory, so a scheduler that only starts
    workflows never opens a stream log or starts function processes; `close()` releases
    what was built here (not what the factories' owners share, such as the server's engine).
    """

    def __init__(
        self,
        *,
        engine: Callable[[], Any],
        functions: Callable[[], Any],
        streams: Callable[[], Any],
        function_pool_size: int = 2,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._factories = {"engine": engine, "functions": functions, "streams": streams}
        self._on_close = on_close
        self._function_pool_size = function_pool_size
        self._pool: Any = None
        self._resolved: dict[str, Target] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Any, store: Any, *, engine: Any = None,
                     streams: Callable[[], Any] | None = None) -> PodiumTargets:
        """Targets over `settings` and `store`; pass the process's `engine` (and a `streams`
        factory) to share them, else they are created here when first needed."""
        made: dict[str, Any] = {}

        def make_engine() -> Any:
            if engine is not None:
                return engine
            if "engine" not in made:
                from podium.engine import Engine

                made["engine"] = Engine(settings, store)
            return made["engine"]

        def make_functions() -> Any:
            # The engine's registry: the functions Task states call are the ones targets call.
            return make_engine().functions

        def make_streams() -> Any:
            if streams is not None:
                return streams()
            if "streams" not in made:
                from podium.ingest.streams.factory import from_settings

                made["streams"] = from_settings(settings)
            return made["streams"]

        def close_made() -> None:
            while made:
                made.popitem()[1].close()

        return cls(engine=make_engine, functions=make_functions, streams=make_streams,
                   on_close=close_made)

    def get(self, name: str) -> Target:
        try:
            return super().get(name)
        except NotFoundError:
            reference = parse_reference(name)
            if reference is None:
                raise
        with self._lock:
            target = self._resolved.get(name)
            if target is None:
                target = self._build(*reference)
                self._resolved[name] = target
            return target

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or (isinstance(name, str) and parse_reference(name) is not None)

    def _build(self, kind: str, resource: str) -> Target:
        if kind == "workflow":
            return WorkflowTarget(self._factories["engine"](), resource)
        if kind == "function":
            if self._pool is None:
                from podium.functions import FunctionPool

                self._pool = FunctionPool(self._function_pool_size)
            return FunctionTarget(self._factories["functions"](), self._pool, resource)
        return StreamTarget(self._factories["streams"](), resource)

    def close(self) -> None:
        """Stop the function processes and close the engine and streams created here."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._on_close is not None:
            self._on_close()
        self._resolved.clear()
