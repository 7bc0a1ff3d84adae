"""`podium events`: the event bus — put events, manage rules, test patterns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit
from podium.errors import ValidationError

app = typer.Typer(help="Event bus: put events, rules with event patterns, pattern tests.",
                  no_args_is_help=True)


def _bus(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from podium.triggers.bus import EventBus

    return EventBus(cli_state(ctx).store)


def _json(text: str, option: str) -> Any:
    """JSON given inline, or read from a file when written @path."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise ValidationError(f"{option}: cannot read {text[1:]!r} ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{option}: not valid JSON ({exc.msg})") from None


@app.command("put")
def put(
    ctx: typer.Context,
    source: str = typer.Option(..., "--source", help="Who sent it, e.g. podium.lake."),
    detail_type: str = typer.Option(..., "--detail-type", help="What happened, e.g. 'Object Created'."),
    detail: str = typer.Option("{}", "--detail", help="JSON object (or @file.json)."),
    resources: list[str] = typer.Option([], "--resource", help="A resource the event concerns (repeatable)."),
) -> None:
    """Put one event on the bus; matching rules queue deliveries to their targets.

    Example: podium events put --source podium.lake --detail-type "Object Created" --detail '{"key": "raw/a.csv"}'
    """
    ids = _bus(ctx).put_events(
        [{"source": source, "detail-type": detail_type, "detail": _json(detail, "--detail"),
          "resources": resources}]
    )
    emit(ctx, {"event_id": ids[0]})


@app.command("rules")
def rules(ctx: typer.Context) -> None:
    """List rules.

    Example: podium events rules
    """
    rows = [
        {**rule.to_dict(), "targets": [t.id + "->" + t.target for t in rule.targets]}
        for rule in _bus(ctx).list_rules()
    ]
    emit(ctx, rows, columns=["name", "state", "pattern", "targets", "description"], title="Rules")


@app.command("put-rule")
def put_rule(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    pattern: str = typer.Option(..., "--pattern", help="Event pattern JSON (or @file.json)."),
    targets: str = typer.Option("[]", "--targets", help='JSON array, e.g. [{"id": "t1", "target": "ingest"}].'),
    description: str = typer.Option("", "--description"),
    disabled: bool = typer.Option(False, "--disabled"),
) -> None:
    """Create or replace a rule (the pattern is validated first).

    Example: podium events put-rule new-file --pattern '{"source": ["podium.lake"]}' --targets '[{"id": "t", "target": "ingest"}]'
    """
    rule = _bus(ctx).put_rule(
        name, _json(pattern, "--pattern"), _json(targets, "--targets"),
        description=description, enabled=not disabled,
    )
    emit(ctx, rule.to_dict(), title="Rule")


@app.command("delete-rule")
def delete_rule(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a rule.

    Example: podium events delete-rule new-file
    """
    _bus(ctx).delete_rule(name)
    emit(ctx, {"deleted": name})


@app.command("test-pattern")
def test_pattern(
    ctx: typer.Context,
    pattern: str = typer.Option(..., "--pattern", help="Event pattern JSON (or @file.json)."),
    event: str = typer.Option(..., "--event", help="Event JSON (or @file.json)."),
) -> None:
    """Does an event match a pattern? Exit code 0 either way; the answer is printed.

    Example: podium events test-pattern --pattern '{"source": ["aws.ec2"]}' --event @event.json
    """
    from podium.triggers.bus import test_event_pattern

    emit(ctx, {"matches": test_event_pattern(_json(pattern, "--pattern"), _json(event, "--event"))})


@app.command("watch")
def watch(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the watch (1-64 characters)."),
    location: str = typer.Argument(..., help="Folder to watch: a path or fsspec URL (s3://bucket/prefix)."),
    existing: bool = typer.Option(False, "--existing", help="Also announce the files already there."),
) -> None:
    """Watch a folder: each new or changed file becomes an `Object Created` event (source
    podium.lake) once the scheduler loop (`podium server` or `podium scheduler`) sees it.

    Example: podium events watch landing ./landing
    """
    from podium.triggers.watch import put_watch

    emit(ctx, put_watch(cli_state(ctx).store, name, location, announce_existing=existing), title="Watch")


@app.command("watches")
def watches(ctx: typer.Context) -> None:
    """List watched folders.

    Example: podium events watches
    """
    from podium.triggers.watch import list_watches

    emit(ctx, list_watches(cli_state(ctx).store), columns=["name", "location"], title="Watches")


@app.command("unwatch")
def unwatch(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Stop watching a folder (what it announced is forgotten).

    Example: podium events unwatch landing
    """
    from podium.triggers.watch import delete_watch

    delete_watch(cli_state(ctx).store, name)
    emit(ctx, {"deleted": name})
