"""`podium worker`: run durable workflow executions from the metadata store until stopped."""

from __future__ import annotations

import signal
import threading

import typer

from podium.cli.context import cli_state


def worker(
    ctx: typer.Context,
    lease_seconds: float = typer.Option(
        30.0, help="How long a task claimed by a worker that died stays unclaimed before another takes it."
    ),
    batch_size: int = typer.Option(64, help="Executions advanced per transaction."),
    poll_interval: float = typer.Option(0.05, help="Seconds between polls when there is nothing to do."),
    max_in_flight: int | None = typer.Option(
        None,
        help="Tasks this worker holds at once (default: twice --function-processes, at least 8). "
        "A task held here waits for this worker even when another worker is idle, so keep it "
        "near what the worker can really run; raise it for long integration tasks (.sync jobs).",
    ),
    function_processes: int = typer.Option(4, help="Reusable subprocesses that run functions."),
) -> None:
    """Run workflow executions: advance them, fire their timers, run their tasks.

    Any number of workers may run against PostgreSQL (they share the work with
    SELECT ... FOR UPDATE SKIP LOCKED); run one per SQLite database. A worker killed at any
    moment loses nothing: another (or a restarted one) continues from the last transition.

    Example: podium worker --lease-seconds 10
    """
    from podium.engine import Engine, Worker

    state = cli_state(ctx)
    engine = Engine(state.settings, state.store, function_pool_size=function_processes)
    runner = Worker(
        engine, lease_seconds=lease_seconds, batch_size=batch_size, poll_interval=poll_interval,
        max_in_flight=max_in_flight if max_in_flight is not None else max(8, 2 * function_processes),
    )
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    state.console.print(
        f"[bold]podium worker[/bold] {runner.worker_id} on {state.store.url} (Ctrl-C to stop)"
    )
    try:
        runner.run(stop)
    finally:
        runner.close()
        engine.close()
