"""`podium workflow`: check and run Amazon States Language workflows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(
    help="Amazon States Language workflows: validate definitions and run them.",
    no_args_is_help=True,
)

_FILE_HELP = "State machine definition: a .json, .yaml or .yml file."
_JSON_HELP = "Print machine-readable JSON (same as the global --json)."


def _line_of(location: str, lines: dict[str, int]) -> int | None:
    """The line of `location`, or of its closest enclosing value present in the file."""
    while True:
        if location in lines:
            return lines[location]
        if not location:
            return None
        location = location.rsplit("/", 1)[0]


def _problems_of(file: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The parsed definition (None if unreadable) and its problems, each with a line number."""
    from podium.asl.loader import line_index, load_definition_text
    from podium.asl.validate import validate
    from podium.errors import NotFoundError, ValidationError

    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no definition file at {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {file}: {exc}", code="PARSE_ERROR") from None
    try:
        doc = load_definition_text(text, source=str(file))
    except ValidationError as exc:
        return None, [{"code": exc.code, "location": "", "line": None, "message": exc.message}]
    lines = line_index(text)
    problems = [{**p.to_dict(), "line": _line_of(p.location, lines)} for p in validate(doc)]
    return doc, problems


def _show_problems(ctx: typer.Context, file: Path, problems: list[dict[str, Any]]) -> None:
    state = cli_state(ctx)
    if state.json:
        typer.echo(json.dumps({"file": str(file), "valid": not problems, "problems": problems}, indent=2))
        return
    if not problems:
        state.console.print(f"[green]valid[/green]: {file}")
        return
    from rich.markup import escape
    from rich.table import Table

    # Locations are what users search for in their file: never truncate them.
    table = Table(title=f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}",
                  header_style="bold")
    table.add_column("code", no_wrap=True)
    table.add_column("location", overflow="fold")
    table.add_column("line", justify="right")
    table.add_column("message", ratio=1)
    for problem in problems:
        line = problem["line"]
        table.add_row(problem["code"], escape(problem["location"] or "/"),
                      "-" if line is None else str(line), escape(problem["message"]))
    state.console.print(table)


@app.command("validate")
def validate_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=_FILE_HELP),
    json_output: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Check a definition the way AWS's ValidateStateMachineDefinition does, listing every problem.

    Prints each problem's code, JSON location, line and message and exits 1 when there are any; prints "valid" and exits 0 otherwise.

    Examples:

        podium workflow validate examples/workflows/every_state.json

        podium workflow validate flow.yaml --json
    """
    state = cli_state(ctx)
    state.json = state.json or json_output
    _, problems = _problems_of(file)
    _show_problems(ctx, file, problems)
    raise typer.Exit(1 if problems else 0)


def _read_input(value: str) -> Any:
    from podium.errors import NotFoundError, ValidationError

    source = "--input"
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no input file at {path}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{source} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "pass JSON text such as '{\"x\": 1}' or @file.json",
            code="InvalidInput",
        ) from None


def _load_callable(spec: str, option: str) -> Any:
    """`module:attr` or `path/to/file.py:attr` -> the object."""
    import importlib
    import importlib.util
    import sys

    from podium.errors import ValidationError

    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ValidationError(f"{option} {spec!r}: expected module:function or file.py:function", code="InvalidOption")
    try:
        if target.endswith(".py") or "/" in target:
            path = Path(target).resolve()
            module_name = f"_podium_workflow_{path.stem}_{abs(hash(str(path)))}"
            module = sys.modules.get(module_name)
            if module is None:
                spec_obj = importlib.util.spec_from_file_location(module_name, path)
                if spec_obj is None or spec_obj.loader is None:
                    raise ImportError(f"cannot import {path}")
                module = importlib.util.module_from_spec(spec_obj)
                sys.modules[module_name] = module
                spec_obj.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(target)
        handler = getattr(module, attr)
    except (ImportError, AttributeError, OSError) as exc:
        raise ValidationError(f"{option} {spec!r}: cannot load it ({exc})", code="InvalidOption") from None
    if not callable(handler):
        raise ValidationError(f"{option} {spec!r}: {attr} is not callable", code="InvalidOption")
    return handler


def _mapping(values: list[str], option: str) -> dict[str, Any]:
    from podium.errors import ValidationError

    out: dict[str, Any] = {}
    for value in values:
        name, sep, spec = value.partition("=")
        if not sep or not name:
            raise ValidationError(f"{option} {value!r}: expected NAME=module:function", code="InvalidOption")
        out[name] = _load_callable(spec, option)
    return out


def _configured_functions(ctx: typer.Context) -> dict[str, Any]:
    """Functions declared in podium.toml's [functions] table (none without a podium.toml)."""
    settings = cli_state(ctx).settings
    return {name: _load_callable(spec, "[functions]") for name, spec in settings.function_targets.items()}


@app.command("run")
def run_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=_FILE_HELP),
    input_value: str = typer.Option("{}", "--input", "-i", help="Execution input: JSON text, or @file.json."),
    function: list[str] = typer.Option(
        [], "--function", "-f",
        help="A Lambda function for Task states: NAME=module:function or NAME=file.py:function (repeatable).",
    ),
    resource: list[str] = typer.Option(
        [], "--resource", "-r",
        help="Any other Task Resource: RESOURCE=module:function, called with the task input (repeatable).",
    ),
    history: bool = typer.Option(False, "--history", help="Also print the execution history events."),
    json_output: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Run a workflow in memory (no server, no database) and print its status and output.

    Task states call Python functions: Lambda-style handlers `handler(event, context)` given with --function (or in the functions table of podium.toml), reached through `arn:aws:states:::lambda:invoke` or a function ARN; any other Resource with --resource. Wait states do not sleep: the clock is virtual. Exits 1 unless the execution SUCCEEDED.

    Examples:

        podium workflow run examples/workflows/intrinsics.json --input @examples/workflows/intrinsics.input.json

        podium workflow run examples/workflows/every_state.json --input @examples/workflows/every_state.input.json --function score=examples/workflows/handlers.py:score --history
    """
    import podium.asl

    state = cli_state(ctx)
    state.json = state.json or json_output
    doc, problems = _problems_of(file)
    if problems:
        _show_problems(ctx, file, problems)
        raise typer.Exit(1)
    execution_input = _read_input(input_value)
    functions = {**_configured_functions(ctx), **_mapping(function, "--function")}
    resources = _mapping(resource, "--resource")
    execution = podium.asl.execute(doc, execution_input, functions=functions, resources=resources)
    result: dict[str, Any] = {"status": execution.status}
    if execution.status == "SUCCEEDED":
        result["output"] = execution.output
    else:
        result["error"] = execution.error
        result["cause"] = execution.cause
    if state.json:
        if history:
            result["events"] = execution.events
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        _show_execution(ctx, result, execution.events if history else None)
    raise typer.Exit(0 if execution.status == "SUCCEEDED" else 1)


def _show_execution(ctx: typer.Context, result: dict[str, Any], events: list[dict[str, Any]] | None) -> None:
    from rich.markup import escape

    console = cli_state(ctx).console
    if events is not None:
        rows = [
            {
                "id": event.get("id"),
                "previous": event.get("previousEventId"),
                "type": event.get("type"),
                "details": event.get("details")
                if "details" in event
                else {k: v for k, v in event.items() if k not in ("id", "previousEventId", "type", "timestamp")},
            }
            for event in events
        ]
        emit(ctx, rows, columns=["id", "previous", "type", "details"], title="History")
    colour = "green" if result["status"] == "SUCCEEDED" else "red"
    console.print(f"status: [{colour}]{result['status']}[/{colour}]")
    if "output" in result:
        console.print("output:")
        console.print(escape(json.dumps(result["output"], indent=2, ensure_ascii=False)))
    else:
        console.print(f"error: {escape(str(result['error']))}")
        console.print(f"cause: {escape(str(result['cause']))}")


# The durable engine's commands (create, start, executions, history, ...) live in their own module.
from podium.cli import workflow_engine as _workflow_engine  # noqa: E402

_workflow_engine.register(app)
