"""`podium server`: the HTTP API, an engine worker, the scheduler and the serving router in one process.

The worker and the scheduler loop run on threads beside uvicorn and share the API's engine
and target registry. SIGTERM or SIGINT stops the HTTP server first (in-flight requests
finish), then the scheduler and the worker; whatever they were doing is durable, so a stop
at any moment loses nothing (an unfinished task or delivery is taken up again later).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
import time
from typing import Any

import typer

from podium.cli.context import cli_state
from podium.errors import ConfigError

log = logging.getLogger(__name__)

# How long shutdown waits, in all, for the background loops to finish their current iteration.
JOIN_SECONDS = 5.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_address(settings: Any, host: str | None, port: int | None) -> tuple[str, int]:
    """Where to listen (options over settings); anything but loopback needs the api_token."""
    bind_host = host or settings.server_host
    bind_port = settings.server_port if port is None else port
    if not is_loopback(bind_host) and not settings.api_token:
        raise ConfigError(
            f"refusing to listen on {bind_host} without a token: set api_token in podium.toml "
            "or PODIUM_API_TOKEN, or bind to 127.0.0.1"
        )
    return bind_host, bind_port


def server(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to bind (default: server_host setting, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default: server_port setting, 8000; 0 picks a free one)."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run an engine worker in this process."),
    scheduler: bool = typer.Option(
        True, "--scheduler/--no-scheduler", help="Run the scheduler loop (schedules, events) in this process."
    ),
) -> None:
    """Run the Podium server: HTTP API (OpenAPI at /openapi.json), workflow worker,
    scheduler and serving router, in one process.

    Binding to anything but loopback requires the api_token setting. For scale, run the
    pieces on their own instead: `podium server --no-worker --no-scheduler`, plus any
    number of `podium worker` and `podium scheduler` processes on PostgreSQL.

    Example: podium server --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from podium.api import create_app
    from podium.api.serving import FastInvocations, service_for
    from podium.serving.http import router_protocol

    state = cli_state(ctx)
    settings = state.settings
    bind_host, bind_port = bind_address(settings, host, port)
    app = create_app(settings, state.store)
    context = app.state.podium
    processes = Processes(context, worker=worker, scheduler=scheduler)
    # Endpoint invocations are answered by the HTTP protocol itself, below ASGI, as `podium
    # serve` does; FastInvocations answers the ones the protocol leaves to the app.
    protocol = router_protocol(lambda endpoint, body, headers: service_for(context).router.respond(
        endpoint, body, headers), settings.api_token, settings.max_invocation_bytes)
    http = uvicorn.Server(
        uvicorn.Config(FastInvocations(app), host=bind_host, port=bind_port,
                       log_level=settings.log_level.lower(), http=protocol)
    )
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        # uvicorn replaces this handler while it runs and calls it again once it has
        # stopped serving; by then only the background loops are left to stop.
        stop.set()
        http.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    processes.start()
    threading.Thread(target=_announce, args=(http, state.console, processes), daemon=True).start()
    try:
        http.run()
    finally:
        processes.stop()


def _announce(http: Any, console: Any, processes: Processes) -> None:
    """Say where the server listens (the real port, when 0 was asked for) once it does."""
    while not http.started:
        if http.should_exit:
            return
        time.sleep(0.05)
    bound = [s.getsockname() for srv in http.servers for s in srv.sockets]
    address = f"http://{bound[0][0]}:{bound[0][1]}" if bound else "?"
    console.print(f"podium server listening on {address} ({processes.describe()})", soft_wrap=True)


class Processes:
    """The background loops `podium server` runs beside the HTTP API."""

    def __init__(self, context: Any, *, worker: bool, scheduler: bool) -> None:
        self.context = context
        self.want_worker = worker
        self.want_scheduler = scheduler
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.engine: Any = None
        self.worker: Any = None
        self.targets: Any = None

    def describe(self) -> str:
        parts = ["api", "serving router"]
        if self.worker is not None:
            parts.append("engine worker")
        if self.targets is not None:
            parts.append("scheduler")
        return ", ".join(parts)

    def start(self) -> None:
        from podium.api.workflows import engine_of

        settings, store = self.context.settings, self.context.store
        # One engine for the API routes, the worker and workflow targets: one definition cache,
        # and endpoints deployed by workflows are served by this server's router.
        self.engine = engine_of(self.context)
        if self.want_worker:
            from podium.engine import Worker

            self.worker = Worker(self.engine)
            self.threads.append(self.worker.start())
        if self.want_scheduler:
            from podium.triggers.podium_targets import PodiumTargets
            from podium.triggers.runner import run_scheduler

            self.targets = PodiumTargets.for_settings(
                settings, store, engine=self.engine, streams=self._streams
            )
            # The /schedules and /events routes define against the same registry.
            self.context.services["triggers.targets"] = self.targets
            thread = threading.Thread(
                target=run_scheduler, args=(store, self.targets, self.stop_event),
                name="podium-scheduler", daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def _streams(self) -> Any:
        services = self.context.services
        if "streams" not in services:
            from podium.ingest.streams.factory import from_settings

            services.setdefault("streams", from_settings(self.context.settings))
        return services["streams"]

    def stop(self) -> None:
        self.stop_event.set()
        if self.worker is not None:
            self.worker.stop()
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %s s; leaving it (its work is durable)",
                            thread.name, JOIN_SECONDS)
        if self.worker is not None:
            self.worker.close()
        if self.targets is not None:
            self.targets.close()
        if self.engine is not None:
            self.engine.close()
