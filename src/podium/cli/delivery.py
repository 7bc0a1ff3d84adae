"""`podium delivery`: delivery streams to the lake (Data Firehose) — create, describe, flush, run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Delivery streams (Data Firehose): buffered, transformed, partitioned writes to the lake.",
                  no_args_is_help=True)


def _deliveries(ctx: typer.Context) -> Any:
    from podium.ingest.delivery import DeliveryStreams
    from podium.ingest.streams.factory import from_settings

    state = cli_state(ctx)
    return DeliveryStreams(state.store, from_settings(state.settings), lake_url=state.settings.lake_url)


def _worker(ctx: typer.Context, name: str) -> Any:
    from podium.functions import FunctionPool, FunctionRegistry

    settings = cli_state(ctx).settings
    registry = FunctionRegistry.from_settings(settings)
    return _deliveries(ctx).worker(name, settings.lake_url, registry=registry, pool=FunctionPool(size=2))


@app.command("create")
def create(ctx: typer.Context, file: Path = typer.Argument(..., help="Definition (.yaml or .json).")) -> None:
    """Create a delivery stream from a definition file.

    Example: podium delivery create orders.yaml

    Fields: name, destination (lake path), source_stream (omit for direct puts),
    buffer_size_mb (1-128), buffer_interval_s (0-900), transform ("module:callable"),
    format (raw | parquet), schema ([[name, arrow type], ...]), partition_keys
    ({name: ".field.path"}), prefix, error_prefix.
    """
    import yaml

    from podium.errors import ValidationError

    body = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(body, dict):
        raise ValidationError(f"{file}: a delivery stream definition is a mapping")
    definition = _deliveries(ctx).create(body)
    emit(ctx, definition.to_json())


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List delivery streams.

    Example: podium delivery list
    """
    emit(ctx, [{"delivery_stream": n} for n in _deliveries(ctx).list()], title="delivery streams")


@app.command("describe")
def describe(ctx: typer.Context, name: str = typer.Argument(..., help="Delivery stream name.")) -> None:
    """Show a delivery stream's definition.

    Example: podium delivery describe orders
    """
    emit(ctx, _deliveries(ctx).describe(name).to_json())


@app.command("flush")
def flush(ctx: typer.Context, name: str = typer.Argument(..., help="Delivery stream name.")) -> None:
    """Deliver everything in the source stream now, ignoring the buffering hints.

    Example: podium delivery flush orders
    """
    worker = _worker(ctx, name)
    while worker.step():
        pass
    worker.close()
    s = worker.stats
    emit(ctx, {"delivery_stream": name, "records_in": s.records_in, "delivered": s.delivered,
               "dropped": s.dropped, "failed": s.failed, "files": s.files, "error_files": s.error_files})


@app.command("run")
def run(ctx: typer.Context, name: str = typer.Argument(..., help="Delivery stream name.")) -> None:
    """Run the delivery process until interrupted (several may run; they share the shards).

    Example: podium delivery run orders
    """
    worker = _worker(ctx, name)
    try:
        worker.run()
    finally:
        worker.close()
