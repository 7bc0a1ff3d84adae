"""`podium scheduler`: fire due schedules, publish Podium's own events and deliver to targets."""

from __future__ import annotations

import signal
import threading

import typer

from podium.cli.context import cli_state


def scheduler(
    ctx: typer.Context,
    interval: float = typer.Option(1.0, help="Seconds between ticks (fires are due on whole seconds)."),
    events: bool = typer.Option(
        True, "--events/--no-events", help="Also publish the events Podium's services recorded."
    ),
) -> None:
    """Run the scheduler loop until stopped (SIGTERM or Ctrl-C).

    Each tick claims the schedules that are due, fires each once, moves the events that
    workflows, jobs, models and deployments recorded onto the bus, and delivers to the
    targets (`workflow:NAME`, `function:NAME`, `stream:NAME` or their ARNs), retrying and
    dead-lettering as configured. Run any number against PostgreSQL; each fire still
    happens once. `podium server` runs one of these itself.

    Example: podium scheduler
    """
    from podium.triggers.podium_targets import PodiumTargets
    from podium.triggers.runner import run_scheduler

    state = cli_state(ctx)
    targets = PodiumTargets.for_settings(state.settings, state.store)
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    state.console.print(f"[bold]podium scheduler[/bold] on {state.store.url} (Ctrl-C to stop)")
    try:
        run_scheduler(state.store, targets, stop, interval=interval, publish_events=events)
    finally:
        targets.close()
