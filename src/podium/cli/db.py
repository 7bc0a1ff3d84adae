"""`podium db`: the metadata store's schema."""

from __future__ import annotations

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Metadata store schema: show the revision, apply migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration to the metadata store.

    Example: podium db upgrade
    """
    from podium.store import migrate, open_store

    state = cli_state(ctx)
    store = open_store(state.settings, upgrade=False)
    try:
        store.ping(f"setting 'metadata_url' in {state.settings.config_file or 'the default settings'}")
        with store.connect() as connection:
            before = sorted(migrate.current_revisions(connection))
        migrate.upgrade(store.engine)
        with store.connect() as connection:
            after = sorted(migrate.current_revisions(connection))
    finally:
        store.dispose()
    emit(ctx, {"metadata_url": state.settings.metadata_url, "before": before, "after": after,
               "changed": before != after}, title="Metadata store")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show the schema revisions applied and the ones the code expects.

    Example: podium db status --json
    """
    from podium.store import migrate, open_store

    state = cli_state(ctx)
    store = open_store(state.settings, upgrade=False)
    try:
        store.ping(f"setting 'metadata_url' in {state.settings.config_file or 'the default settings'}")
        with store.connect() as connection:
            current = sorted(migrate.current_revisions(connection))
    finally:
        store.dispose()
    heads = sorted(migrate.head_revisions())
    emit(ctx, {"metadata_url": state.settings.metadata_url, "current": current, "heads": heads,
               "up_to_date": current == heads}, title="Metadata store")
