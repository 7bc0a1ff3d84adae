"""Random draws (States.UUID, States.MathRandom, $random(), $uuid()) that replay exactly.

API:
    generator() -> random.Random
        The generator for one draw. Inside `seeded(...)` (the step function wraps every event
        it applies in one) it is seeded from the run's seed, the step and a draw counter, so
        applying the same event to the same run state draws the same values; outside, it is
        the process's shared generator.
    seeded(run_state) -> context manager
        Makes `generator()` deterministic for the run while one event is applied.

A run's seed comes from StartExecution.seed: the durable engine and the in-memory runner
pick a fresh one per execution, so two executions still get different UUIDs, as on AWS.
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from typing import Any

_SHARED = random.Random()


_CURRENT: ContextVar[seeded | None] = ContextVar("podium_asl_entropy", default=None)


def generator() -> random.Random:
    source = _CURRENT.get()
    if source is None:
        return _SHARED
    source.draws += 1
    return random.Random(f"{source.run_state.seed}:{source.step}:{source.draws}")


class seeded:  # noqa: N801 - used as a function: `with seeded(run_state):`
    """The context manager of `seeded(run_state)`, and the source of its draws: the run's seed,
    the step (the run's next event id when it began) and a draw counter. A class, not
    @contextmanager: that costs more than the rest of a small step."""

    __slots__ = ("draws", "run_state", "step", "token")

    def __init__(self, run_state: Any) -> None:
        self.run_state = run_state
        self.step = run_state.next_event_id
        self.draws = 0

    def __enter__(self) -> None:
        self.token = _CURRENT.set(self)

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self.token)
