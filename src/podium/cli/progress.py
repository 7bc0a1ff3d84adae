"""Progress bars for long data commands (`podium recipe run`, `podium job run`...).

Bars are drawn on stderr, only when stderr is a terminal and --json is off, and vanish
when the command ends: piped or --json output carries no bar. A bar follows two kinds
of report: a phase's units (files read, 0/1 then 1/1 for one-query phases) from the
code's own thread, and the percentage of the DuckDB query running inside the phase,
from a watcher thread (`podium.prep.progress`); the bar shows units done plus the running
query's share of the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from podium.cli.context import cli_state


class Bars:
    """One bar per phase, fed by `phase(name, done, total)` and `query(name, percent)`."""

    def __init__(self, progress: Progress, labels: dict[str, str]) -> None:
        self._progress = progress
        self._labels = labels
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._units: dict[str, tuple[int, int]] = {}

    def _task(self, name: str, total: int) -> Any:
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(self._labels.get(name, name), total=total)
        return self._tasks[name]

    def phase(self, name: str, done: int, total: int) -> None:
        with self._lock:
            total = max(total, 1)
            self._units[name] = (done, total)
            self._progress.update(self._task(name, total), completed=done, total=total)

    def query(self, name: str, percent: float) -> None:
        with self._lock:
            done, total = self._units.get(name, (0, 1))
            if done >= total:
                return
            self._progress.update(self._task(name, total), completed=min(done + percent / 100, total), total=total)


@contextmanager
def progress_bars(ctx: typer.Context, labels: dict[str, str]) -> Iterator[Bars | None]:
    """Bars for the duration of the block, or None when they must not be drawn."""
    console = Console(stderr=True)
    if cli_state(ctx).json or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield Bars(progress, labels)
