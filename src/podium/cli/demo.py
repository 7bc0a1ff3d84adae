"""`podium demo`: run the flagship scenario as far as Podium has built it, and say what is missing.

Each stage either runs for real against a fresh PODIUM_HOME or is listed as not built
yet; nothing is simulated.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import typer

from podium.cli.context import cli_state, emit
from podium.demo import run_demo


def demo(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, help="PODIUM_HOME for the demo (default: a new temporary directory)."
    ),
) -> None:
    """Run the nightly-retraining flagship end to end on embedded defaults.

    Example: podium demo --home /tmp/podium-demo
    """
    state = cli_state(ctx)
    target = home.resolve() if home else Path(tempfile.mkdtemp(prefix="podium-demo-"))
    started = time.perf_counter()
    report = run_demo(target, console=None if state.json else state.console)
    report["seconds"] = round(time.perf_counter() - started, 2)
    if state.json:
        emit(ctx, report)
        return
    emit(ctx, report["stages"], columns=["stage", "status", "summary"], title="Podium demo")
    missing = [s["stage"] for s in report["stages"] if s["status"] == "not built yet"]
    if missing:
        state.console.print(
            f"[yellow]Not built yet:[/] {', '.join(missing)} — see README.md for the capability table."
        )
    state.console.print(f"PODIUM_HOME: {target}  ({report['seconds']} s)")
