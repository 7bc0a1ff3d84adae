"""`podium serve`: the serving router and endpoint API on their own, without the engine worker
or the scheduler — the process to run (several copies, behind a load balancer) when serving
must scale apart from the rest of Podium.

On start it restarts the model workers of every endpoint the metadata store says is serving,
and supervises them (a dead worker is restarted within about a second) until SIGTERM/SIGINT.
"""

from __future__ import annotations

import threading
from typing import Any

import typer

from podium.cli.context import cli_state


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to bind (default: server_host setting, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default: server_port setting, 8000; 0 picks a free one)."),
) -> None:
    """Run the serving router: /endpoints (create, deploy, invoke, metrics), /alarms and
    /metrics, with model workers supervised. No workflow worker or scheduler runs here.

    Binding to anything but loopback requires the api_token setting.

    Example: podium serve --port 8080
    """
    import uvicorn

    from podium.api import create_app
    from podium.api.serving import FastInvocations, service_for
    from podium.cli.server import bind_address
    from podium.serving.http import router_protocol

    state = cli_state(ctx)
    settings = state.settings
    bind_host, bind_port = bind_address(settings, host, port)
    app = create_app(settings, state.store)
    # Invocations answered by the HTTP protocol itself, below ASGI (and, for what it leaves to
    # the app, ahead of the app's middleware); each response sent in one write.
    context = app.state.podium
    protocol = router_protocol(lambda endpoint, body, headers: service_for(context).router.respond(
        endpoint, body, headers), settings.api_token, settings.max_invocation_bytes)
    http = uvicorn.Server(uvicorn.Config(FastInvocations(app), host=bind_host, port=bind_port,
                                         log_level=settings.log_level.lower(), access_log=False,
                                         http=protocol))
    threading.Thread(target=_announce, args=(http, state.console), daemon=True).start()
    http.run()


def _announce(http: Any, console: Any) -> None:
    while not http.started:
        if http.should_exit:
            return
        threading.Event().wait(0.05)
    bound = [s.getsockname() for srv in http.servers for s in srv.sockets]
    address = f"http://{bound[0][0]}:{bound[0][1]}" if bound else "?"
    console.print(f"podium serve listening on {address} (serving router, endpoint supervisor)", soft_wrap=True)
