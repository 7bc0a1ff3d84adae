"""`podium workflow` commands of the durable engine: state machines, executions, callbacks.

They are added to the `workflow` command group defined in `podium.cli.workflow` (which holds
`validate` and the in-memory `run`) by `register(app)`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from podium.cli.context import cli_state, emit

_EXECUTION_COLUMNS = ["name", "state_machine", "status", "start_time", "stop_time", "arn"]


if TYPE_CHECKING:
    from podium.engine import Engine


def _engine(ctx: typer.Context) -> Engine:
    from podium.engine import Engine

    state = cli_state(ctx)
    return Engine(state.settings, state.store)


def _json_value(value: str | None, option: str) -> Any:
    """JSON text, or @path to a file holding it."""
    from podium.errors import NotFoundError, ValidationError

    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"{option}: no file at {value[1:]}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{option} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "pass JSON text such as '{\"x\": 1}' or @file.json",
            code="InvalidInput",
        ) from None


def _definition(file: Path) -> str:
    from podium.errors import NotFoundError

    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no definition file at {file}") from None


def _machine_view(info: Any, full: bool = False) -> dict[str, Any]:
    view = {
        "name": info.name, "type": info.type, "arn": info.arn, "revision_id": info.revision_id,
        "description": info.description, "updated_at": info.updated_at,
    }
    if full:
        view["definition"] = info.definition
    return view


def _execution_view(info: Any) -> dict[str, Any]:
    view: dict[str, Any] = info.to_dict()
    view.pop("revision_id", None)
    return view


def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="State machine name (letters, digits, - _ .)."),
    definition: Path = typer.Option(..., "--definition", "-d", help="ASL definition, .json/.yaml."),
    type_: str = typer.Option("STANDARD", "--type", help="STANDARD (durable) or EXPRESS (in memory)."),
    description: str = typer.Option("", help="Free text shown by describe."),
    publish: bool = typer.Option(False, help="Also publish version 1."),
) -> None:
    """Create a state machine from an ASL definition (validated first).

    Example: podium workflow create nightly --definition nightly.asl.json
    """
    engine = _engine(ctx)
    info = engine.create_state_machine(
        name, _definition(definition), type=type_, description=description, publish=publish
    )
    emit(ctx, _machine_view(info), title="state machine")


def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="State machine name."),
    definition: Path | None = typer.Option(None, "--definition", "-d", help="New ASL definition."),
    description: str | None = typer.Option(None, help="New description."),
    publish: bool = typer.Option(False, help="Publish the result as a new version."),
) -> None:
    """Change a state machine; running executions keep the definition they started with.

    Example: podium workflow update nightly --definition nightly.asl.json --publish
    """
    engine = _engine(ctx)
    info = engine.update_state_machine(
        name, definition=_definition(definition) if definition else None,
        description=description, publish=publish,
    )
    emit(ctx, _machine_view(info), title="state machine")


def list_(ctx: typer.Context) -> None:
    """List state machines.

    Example: podium workflow list
    """
    rows = [_machine_view(info) for info in _engine(ctx).list_state_machines()]
    emit(ctx, rows, columns=["name", "type", "updated_at", "arn"], title="state machines")


def describe(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="State machine name (name:version, name:alias) or execution ARN."),
) -> None:
    """Describe a state machine (with its definition) or an execution.

    Example: podium workflow describe nightly
    Example: podium workflow describe arn:aws:states:local:000000000000:execution:nightly:run-1
    """
    from podium.engine.arns import parse_execution

    engine = _engine(ctx)
    if parse_execution(target) is not None:
        emit(ctx, _execution_view(engine.describe_execution(target)), title="execution")
        return
    view = _machine_view(engine.describe_state_machine(target), full=True)
    view["versions"] = [v.version for v in engine.list_versions(target)]
    view["aliases"] = {a.name: a.routing for a in engine.list_aliases(target)}
    emit(ctx, view, title="state machine")


def delete(ctx: typer.Context, name: str = typer.Argument(..., help="State machine name.")) -> None:
    """Delete a state machine with its versions and aliases (executions stay readable).

    Example: podium workflow delete nightly
    """
    _engine(ctx).delete_state_machine(name)
    emit(ctx, {"deleted": name})


def publish(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="State machine name."),
    description: str = typer.Option("", help="What this version is."),
) -> None:
    """Publish the current definition as a numbered version.

    Example: podium workflow publish nightly --description "adds drift check"
    """
    version = _engine(ctx).publish_version(name, description)
    emit(ctx, {"version": version.version, "arn": version.arn, "description": version.description})


def alias(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="State machine name."),
    alias_name: str = typer.Argument(..., help="Alias name, e.g. prod."),
    route: list[str] = typer.Option(..., "--route", help="VERSION=WEIGHT; one or two, weights sum to 100."),
) -> None:
    """Create or move an alias: start `name:alias` to run the versions it routes to.

    Example: podium workflow alias nightly prod --route 3=90 --route 4=10
    """
    from podium.errors import NotFoundError, ValidationError

    routing: dict[int, int] = {}
    for item in route:
        version, sep, weight = item.partition("=")
        if not sep or not version.isdigit() or not weight.isdigit():
            raise ValidationError(f"--route {item!r}: use VERSION=WEIGHT, e.g. 3=90")
        routing[int(version)] = int(weight)
    engine = _engine(ctx)
    try:
        engine.describe_alias(name, alias_name)
        info = engine.update_alias(name, alias_name, routing)
    except NotFoundError:
        info = engine.create_alias(name, alias_name, routing)
    emit(ctx, {"alias": info.name, "arn": info.arn, "routing": info.routing})


def start(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="State machine (name, name:version or name:alias)."),
    input_: str | None = typer.Option(None, "--input", "-i", help="JSON input, or @file.json."),
    name: str | None = typer.Option(None, "--name", help="Execution name (same name + input = same execution)."),
    wait: bool = typer.Option(False, "--wait", help="Show live progress until the execution ends."),
    worker: bool = typer.Option(
        True, "--worker/--no-worker",
        help="With --wait, also run executions in this process (no separate `podium worker` needed).",
    ),
) -> None:
    """Start an execution.

    Example: podium workflow start nightly --input '{"date": "2026-01-01"}' --wait
    """
    engine = _engine(ctx)
    info = engine.start_execution(target, _json_value(input_, "--input"), name=name)
    if wait:
        info = _follow(ctx, engine, info.arn, worker)
    emit(ctx, _execution_view(info), title="execution")
    if wait and info.status != "SUCCEEDED":
        raise typer.Exit(1)


def _follow(ctx: typer.Context, engine: Any, arn: str, run_worker: bool) -> Any:
    """Live view of an execution until it ends: status, states entered, the current state."""
    from rich.live import Live
    from rich.table import Table

    from podium.engine import Worker
    from podium.engine.service import page_token

    state = cli_state(ctx)
    runner = Worker(engine, poll_interval=0.02) if run_worker else None
    started = time.time()
    entered: list[str] = []
    next_token = None

    def view(info: Any) -> Table:
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        table.add_row("execution", info.name)
        table.add_row("status", info.status)
        table.add_row("states entered", str(len(entered)))
        table.add_row("current state", entered[-1] if entered else "-")
        table.add_row("elapsed", f"{time.time() - started:.1f} s")
        return table

    info = engine.describe_execution(arn)
    try:
        # With --json nothing but the final JSON goes to stdout: the live view is not drawn.
        with Live(view(info), console=state.console, refresh_per_second=8,
                  transient=state.json, auto_refresh=not state.json) as live:
            while True:
                if runner is not None:
                    runner.run_once()
                if info.type == "STANDARD":
                    while True:
                        page = engine.get_execution_history(arn, limit=1000, next_token=next_token)
                        entered.extend(
                            str(e.details.get("name")) for e in page.items if e.type.endswith("StateEntered")
                        )
                        if page.items:
                            next_token = page_token(page.items[-1].id)
                        if page.next_token is None:
                            break
                info = engine.describe_execution(arn)
                if not state.json:
                    live.update(view(info))
                if info.status != "RUNNING":
                    return info
                time.sleep(0.05)
    finally:
        if runner is not None:
            runner.close()
        engine.close()


def executions(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="Only this state machine (name, name:version, name:alias)."),
    status: str | None = typer.Option(None, help="RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."),
    limit: int = typer.Option(50, help="Page size (1-1000)."),
    next_token: str | None = typer.Option(None, help="Token printed by the previous page."),
) -> None:
    """List executions, newest first.

    Example: podium workflow executions nightly --status FAILED
    """
    page = _engine(ctx).list_executions(target, status=status, limit=limit, next_token=next_token)
    rows = [_execution_view(info) for info in page.items]
    if cli_state(ctx).json:
        emit(ctx, {"executions": rows, "next_token": page.next_token})
        return
    emit(ctx, rows, columns=_EXECUTION_COLUMNS, title="executions")
    if page.next_token:
        cli_state(ctx).console.print(f"more: --next-token {page.next_token}")


def history(
    ctx: typer.Context,
    arn: str = typer.Argument(..., help="Execution ARN."),
    reverse: bool = typer.Option(False, "--reverse", help="Newest events first."),
    limit: int = typer.Option(100, help="Page size (1-1000)."),
    next_token: str | None = typer.Option(None, help="Token printed by the previous page."),
) -> None:
    """Show an execution's history events (AWS event names).

    Example: podium workflow history arn:aws:states:local:000000000000:execution:nightly:run-1 --reverse
    """
    page = _engine(ctx).get_execution_history(arn, reverse=reverse, limit=limit, next_token=next_token)
    rows = [event.to_dict() for event in page.items]
    if cli_state(ctx).json:
        emit(ctx, {"events": rows, "next_token": page.next_token})
        return
    emit(ctx, rows, columns=["id", "previous_event_id", "type", "timestamp", "details"], title="history")
    if page.next_token:
        cli_state(ctx).console.print(f"more: --next-token {page.next_token}")


def stop(
    ctx: typer.Context,
    arn: str = typer.Argument(..., help="Execution ARN."),
    error: str | None = typer.Option(None, help="Error name recorded on the execution."),
    cause: str | None = typer.Option(None, help="Cause recorded on the execution."),
) -> None:
    """Stop a running execution (status ABORTED); its tasks are cancelled.

    Example: podium workflow stop arn:aws:states:local:000000000000:execution:nightly:run-1 --cause "bad data"
    """
    emit(ctx, _execution_view(_engine(ctx).stop_execution(arn, error=error, cause=cause)), title="execution")


def redrive(ctx: typer.Context, arn: str = typer.Argument(..., help="Execution ARN.")) -> None:
    """Resume a FAILED, TIMED_OUT or ABORTED execution from the state that failed.

    Example: podium workflow redrive arn:aws:states:local:000000000000:execution:nightly:run-1
    """
    emit(ctx, _execution_view(_engine(ctx).redrive_execution(arn)), title="execution")


def send_task_success(
    ctx: typer.Context,
    token: str = typer.Argument(..., help="The task token ($$.Task.Token)."),
    output: str = typer.Option("{}", "--output", help="JSON result of the task, or @file.json."),
) -> None:
    """Complete a .waitForTaskToken task with its result.

    Example: podium workflow send-task-success "$TOKEN" --output '{"approved": true}'
    """
    _engine(ctx).send_task_success(token, _json_value(output, "--output"))
    emit(ctx, {"sent": "success"})


def send_task_failure(
    ctx: typer.Context,
    token: str = typer.Argument(..., help="The task token ($$.Task.Token)."),
    error: str | None = typer.Option(None, help="Error name (what Catch/Retry match)."),
    cause: str | None = typer.Option(None, help="Human-readable cause."),
) -> None:
    """Fail a .waitForTaskToken task.

    Example: podium workflow send-task-failure "$TOKEN" --error Review.Rejected --cause "metrics regressed"
    """
    _engine(ctx).send_task_failure(token, error, cause)
    emit(ctx, {"sent": "failure"})


def send_task_heartbeat(
    ctx: typer.Context, token: str = typer.Argument(..., help="The task token ($$.Task.Token)."),
) -> None:
    """Tell a .waitForTaskToken task with HeartbeatSeconds that the work is still going.

    Example: podium workflow send-task-heartbeat "$TOKEN"
    """
    _engine(ctx).send_task_heartbeat(token)
    emit(ctx, {"sent": "heartbeat"})


COMMANDS = (
    ("create", create), ("update", update), ("list", list_), ("describe", describe),
    ("delete", delete), ("publish", publish), ("alias", alias), ("start", start),
    ("executions", executions), ("history", history), ("stop", stop), ("redrive", redrive),
    ("send-task-success", send_task_success), ("send-task-failure", send_task_failure),
    ("send-task-heartbeat", send_task_heartbeat),
)


def register(app: typer.Typer) -> None:
    """Add the engine's commands to the `podium workflow` group."""
    for name, command in COMMANDS:
        app.command(name)(command)
