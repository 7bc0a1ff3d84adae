"""`podium server`: the HTTP API (and, as they land, workers, scheduler and router) in one process."""

from __future__ import annotations

import ipaddress

import typer

from podium.cli.context import cli_state
from podium.errors import ConfigError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to bind (default: server_host setting, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default: server_port setting, 8000)."),
) -> None:
    """Run the Podium server: HTTP API with OpenAPI at /openapi.json.

    Binding to anything but loopback requires the api_token setting.

    Example: podium server --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from podium.api import create_app

    state = cli_state(ctx)
    settings = state.settings
    bind_host = host or settings.server_host
    bind_port = settings.server_port if port is None else port
    if not is_loopback(bind_host) and not settings.api_token:
        raise ConfigError(
            f"refusing to listen on {bind_host} without a token: set api_token in podium.toml "
            "or PODIUM_API_TOKEN, or bind to 127.0.0.1"
        )
    app = create_app(settings, state.store)
    uvicorn.run(app, host=bind_host, port=bind_port, log_level=settings.log_level.lower())
