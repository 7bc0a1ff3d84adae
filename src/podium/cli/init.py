"""`podium init`: write podium.toml and create PODIUM_HOME (safe to run again)."""

from __future__ import annotations

from pathlib import Path

import typer

from podium.cli.context import cli_state, emit


def init(
    ctx: typer.Context,
    directory: Path = typer.Argument(Path("."), help="Project folder (default: the current one)."),
) -> None:
    """Set up a Podium project: podium.toml, PODIUM_HOME and the metadata store.

    Running it again keeps an existing podium.toml and data as they are.

    Example: podium init && podium doctor
    """
    from podium.config import CONFIG_FILE_NAME, load_settings, render_default_config
    from podium.store import open_store

    state = cli_state(ctx)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / CONFIG_FILE_NAME
    created = not config_path.exists()
    if created:
        config_path.write_text(render_default_config(), encoding="utf-8")
    settings = load_settings(directory)
    settings.home.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "artifacts"):
        settings.path(sub).mkdir(exist_ok=True)
    store = open_store(settings)
    store.dispose()
    state._settings = settings
    emit(ctx, {
        "config_file": str(config_path),
        "config_created": created,
        "home": str(settings.home),
        "metadata_url": settings.metadata_url,
    }, title="Podium project ready")
