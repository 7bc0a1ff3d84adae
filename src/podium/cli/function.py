"""`podium function`: list the functions workflows can call, and invoke one by hand."""

from __future__ import annotations

import json
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(
    help="Functions (the Lambda stand-in): Python handlers registered under [functions] in podium.toml.",
    no_args_is_help=True,
)


@app.command("list")
def list_functions(ctx: typer.Context) -> None:
    """List registered functions with their limits.

    Example: podium function list
    """
    from podium.functions import FunctionRegistry

    registry = FunctionRegistry.from_settings(cli_state(ctx).settings)
    rows = [
        {"name": spec.name, "target": spec.target, "timeout_seconds": spec.timeout_seconds,
         "memory_mb": spec.memory_mb, "concurrency": spec.concurrency, "arn": spec.arn}
        for spec in registry.specs()
    ]
    emit(ctx, rows, columns=["name", "target", "timeout_seconds", "memory_mb", "concurrency"],
         title="functions")


@app.command("invoke")
def invoke(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Function name (or its ARN)."),
    payload: str = typer.Option("{}", "--payload", "-p", help="JSON event, or @file.json."),
    timeout: float | None = typer.Option(None, help="Seconds before the call is abandoned (default: the function's)."),
) -> None:
    """Invoke a function in a worker subprocess, as a Task state would, and print its result.

    Example: podium function invoke score --payload '{"rows": [[1, 2]]}'
    """
    from podium.asl.lambdas import function_name
    from podium.cli.workflow_engine import _json_value
    from podium.functions import FunctionError, FunctionPool, FunctionRegistry

    registry = FunctionRegistry.from_settings(cli_state(ctx).settings)
    spec = registry.get(function_name(name))
    event: Any = _json_value(payload, "--payload")
    with FunctionPool(1) as pool:
        try:
            result = pool.invoke(spec, event, timeout_seconds=timeout)
        except FunctionError as exc:
            emit(ctx, {"function": spec.name, "error": exc.error, "cause": exc.cause})
            raise typer.Exit(1) from None
    if cli_state(ctx).json:
        typer.echo(json.dumps({"function": spec.name, "result": result}, indent=2))
        return
    emit(ctx, {"function": spec.name, "result": result})
