"""`podium events`: the event bus — put events, manage rules, test patterns, archive and
replay, dead letters, watched folders."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit
from podium.cli.context import parse_when as _when
from podium.errors import ValidationError

app = typer.Typer(help="Event bus: put events, rules with event patterns, pattern tests.",
                  no_args_is_help=True)


JSON_HELP = "Print machine-readable JSON (same as the global --json)."


def _bus(ctx: typer.Context, json_output: bool = False):  # type: ignore[no-untyped-def]
    from podium.triggers.bus import EventBus

    state = cli_state(ctx)
    state.json = state.json or json_output
    return EventBus(state.store)


def _json_mode(ctx: typer.Context, json_output: bool) -> None:
    state = cli_state(ctx)
    state.json = state.json or json_output


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


def _read_entries(text: str) -> list[Any]:
    """Entries given as a JSON array, one JSON object, or JSON lines; inline, @file or -
    (stdin). A JSON-lines line that does not parse becomes a `ValidationError` in the
    list, so that it fails on its own and the other lines are still put."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise ValidationError(f"--entries: cannot read {text[1:]!r} ({exc.strerror})") from None
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
        lines: list[Any] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError as exc:
                lines.append(ValidationError(f"--entries line {number}: not valid JSON ({exc.msg})"))
        if not lines:
            raise ValidationError("--entries: no entries (a JSON array, an object or JSON lines)") from None
        return lines
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list) and whole:
        return whole
    raise ValidationError("--entries: expected a non-empty JSON array of entries, an object or JSON lines")


@app.command("put")
def put(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Who sent it, e.g. podium.lake."),
    detail_type: str | None = typer.Option(None, "--detail-type", help="What happened, e.g. 'Object Created'."),
    detail: str = typer.Option("{}", "--detail", help="JSON object (or @file.json)."),
    resources: list[str] = typer.Option([], "--resource", help="A resource the event concerns (repeatable)."),
    time: str | None = typer.Option(None, "--time", help="When it happened (ISO 8601; default now)."),
    entries: str | None = typer.Option(
        None, "--entries",
        help="Several events instead: a JSON array, an object or JSON lines; inline, @file or - (stdin). "
             "Sent 10 at a time; each entry succeeds or fails on its own.",
    ),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Put events on the bus; matching rules queue deliveries to their targets.

    One event from --source/--detail-type/--detail, or many with --entries (each an object
    with source, detail-type, detail, optional time and resources). With --entries, every
    entry gets an event id or an error code (InvalidArgument, MalformedDetail) and the
    valid ones are stored even when others fail; the exit status is 1 if any failed.

    Example: podium events put --source podium.lake --detail-type "Object Created" --detail '{"key": "raw/a.csv"}'

    Example: podium events put --entries @events.jsonl --json
    """
    bus = _bus(ctx, json_output)
    if entries is None:
        if source is None or detail_type is None:
            raise ValidationError("events put: give --source and --detail-type, or --entries")
        entry = {"source": source, "detail-type": detail_type, "detail": _json(detail, "--detail"),
                 "resources": resources}
        if time is not None:
            entry["time"] = _when(time, "--time")
        ids = bus.put_events([entry])
        emit(ctx, {"event_id": ids[0]})
        return
    from podium.triggers.bus import MAX_ENTRIES

    if source is not None or detail_type is not None or time is not None or resources or detail != "{}":
        raise ValidationError("events put: --entries cannot be combined with --source, --detail-type, "
                              "--detail, --resource or --time")
    given = _read_entries(entries)
    results: list[dict[str, Any]] = [{} for _ in given]
    valid = [(i, e) for i, e in enumerate(given) if not isinstance(e, ValidationError)]
    for i, e in enumerate(given):
        if isinstance(e, ValidationError):
            results[i] = {"error_code": "InvalidArgument", "error_message": e.message}
    for start in range(0, len(valid), MAX_ENTRIES):
        chunk = valid[start : start + MAX_ENTRIES]
        answer = bus.put_events_detailed([e for _, e in chunk])
        for (i, _), result in zip(chunk, answer.entries, strict=True):
            outcome = result.to_dict()
            if "error_message" in outcome:  # name the entry by its place in the whole input
                outcome["error_message"] = re.sub(r"^entries\[\d+\]", f"entries[{i}]",
                                                  outcome["error_message"])
            results[i] = outcome
    failed = sum(1 for r in results if "event_id" not in r)
    rows = [{"index": i, **r} for i, r in enumerate(results)]
    if cli_state(ctx).json:
        emit(ctx, {"failed_entry_count": failed, "entries": rows})
    else:
        emit(ctx, rows, columns=["index", "event_id", "error_code", "error_message"],
             title=f"Put events: {len(rows) - failed} stored, {failed} failed")
    if failed:
        raise typer.Exit(1)


@app.command("purge-deliveries")
def purge_deliveries(
    ctx: typer.Context,
    older_than: str = typer.Option(
        ..., "--older-than",
        help="Age of finished deliveries to delete: seconds or a number with s, m, h or d (e.g. 7d).",
    ),
    batch_size: int = typer.Option(500, "--batch-size", help="Rows deleted per transaction."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete succeeded and dead deliveries that finished longer ago than --older-than.

    Pending and running deliveries are never touched and dead letters are kept. The age
    must be at least the delivery lease (5 minutes), which duplicate detection needs.

    Example: podium events purge-deliveries --older-than 7d
    """
    seconds = _duration(older_than, "--older-than")
    emit(ctx, {"purged": _bus(ctx, json_output).purge_deliveries(seconds, batch_size=batch_size)})


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def _duration(text: str, option: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise ValidationError(f"{option}: expected seconds or a number with s, m, h or d (got {text!r})")
    return float(match.group(1)) * _UNITS[match.group(2)]


@app.command("rules")
def rules(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List rules.

    Example: podium events rules
    """
    rows = [
        {**rule.to_dict(), "targets": [t.id + "->" + t.target for t in rule.targets]}
        for rule in _bus(ctx, json_output).list_rules()
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
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create or replace a rule (the pattern is validated first).

    A target is `{"id", "target"}` plus optional `input`, `input_path` or
    `input_transformer` (`input_paths_map`, `input_template`), `max_retry_attempts`,
    `max_event_age_seconds` and `dead_letter` (a target told of a failed delivery).

    Example: podium events put-rule new-file --pattern '{"source": ["podium.lake"]}' --targets '[{"id": "t", "target": "ingest"}]'
    """
    rule = _bus(ctx, json_output).put_rule(
        name, _json(pattern, "--pattern"), _json(targets, "--targets"),
        description=description, enabled=not disabled,
    )
    emit(ctx, rule.to_dict(), title="Rule")


@app.command("describe-rule")
def describe_rule(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a rule: its pattern, state and targets with their input and retry settings.

    Example: podium events describe-rule new-file
    """
    emit(ctx, _bus(ctx, json_output).get_rule(name).to_dict(), title=f"Rule {name}")


@app.command("enable-rule")
def enable_rule(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Enable a rule: matching events are delivered again from now on.

    Example: podium events enable-rule new-file
    """
    emit(ctx, _bus(ctx, json_output).set_rule_state(name, True).to_dict(), title="Rule")


@app.command("disable-rule")
def disable_rule(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Disable a rule: events that arrive meanwhile are archived but not delivered by it.

    Example: podium events disable-rule new-file
    """
    emit(ctx, _bus(ctx, json_output).set_rule_state(name, False).to_dict(), title="Rule")


@app.command("delete-rule")
def delete_rule(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a rule.

    Example: podium events delete-rule new-file
    """
    _bus(ctx, json_output).delete_rule(name)
    emit(ctx, {"deleted": name})


@app.command("archive")
def archive(
    ctx: typer.Context,
    start: str | None = typer.Option(None, "--start", help="Events at or after this time (ISO 8601)."),
    end: str | None = typer.Option(None, "--end", help="Events before this time."),
    source: str | None = typer.Option(None, "--source", help="Only events from this source."),
    limit: int = typer.Option(100, "--limit", "-n", help="At most this many, oldest first."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List archived events of a time range (every event put on the bus is archived).

    Example: podium events archive --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z
    """
    events = _bus(ctx, json_output).events(
        _when(start, "--start"), _when(end, "--end"), limit=limit, source=source
    )
    emit(ctx, events, columns=["time", "source", "detail-type", "id", "detail"], title="Archived events")


@app.command("purge-archive")
def purge_archive(
    ctx: typer.Context,
    before: str = typer.Option(..., "--before", help="Delete archived events older than this (ISO 8601)."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete archived events older than a time (the archive's retention).

    Example: podium events purge-archive --before 2026-01-01T00:00:00Z
    """
    moment = _when(before, "--before")
    assert moment is not None
    emit(ctx, {"purged": _bus(ctx, json_output).purge_archive(moment)})


@app.command("replay")
def replay(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Replay name; each name runs once."),
    start: str = typer.Option(..., "--start", help="Replay events at or after this time (ISO 8601)."),
    end: str = typer.Option(..., "--end", help="...and before this time."),
    rules: list[str] = typer.Option([], "--rule", help="Only through this rule (repeatable; default all)."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Send archived events of a time range through today's rules again; each event carries
    `replay-name`. The deliveries run in the scheduler loop.

    Example: podium events replay fix-1 --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z --rule new-file
    """
    start_at, end_at = _when(start, "--start"), _when(end, "--end")
    assert start_at is not None and end_at is not None
    queued = _bus(ctx, json_output).replay(name, start_at, end_at, rules=rules or None)
    emit(ctx, {"name": name, "deliveries": queued})


@app.command("replays")
def replays(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the replays run so far, newest first.

    Example: podium events replays
    """
    emit(ctx, _bus(ctx, json_output).replays(),
         columns=["name", "state", "start", "end", "rules", "events", "deliveries", "started_at"],
         title="Replays")


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending | running | succeeded | dead."),
    origin: str | None = typer.Option(None, "--origin", help="Only those of this rule or schedule."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many, newest first."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List deliveries to targets (rule matches and schedule fires) with their status,
    attempts and last error: what is waiting, retrying, done or dead.

    Example: podium events deliveries --status pending
    """
    rows = _bus(ctx, json_output).deliveries(status=status, origin_name=origin, limit=limit)
    emit(ctx, rows, columns=["created_at", "origin", "origin_name", "target", "status", "attempts",
                             "next_attempt_at", "last_error"], title="Deliveries")


@app.command("dead-letters")
def dead_letters(
    ctx: typer.Context,
    origin: str | None = typer.Option(
        None, "--origin", help="Only those of this rule or schedule (group/name outside the default group)."
    ),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many, newest first."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List deliveries that failed for good (rule targets and schedule fires) with the reason.

    Example: podium events dead-letters --origin new-file
    """
    rows = _bus(ctx, json_output).dead_letters(origin_name=origin, limit=limit)
    emit(ctx, rows, columns=["failed_at", "origin", "origin_name", "target", "reason", "attempts", "error"],
         title="Dead letters")


@app.command("test-pattern")
def test_pattern(
    ctx: typer.Context,
    pattern: str = typer.Option(..., "--pattern", help="Event pattern JSON (or @file.json)."),
    event: str = typer.Option(..., "--event", help="Event JSON (or @file.json)."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Does an event match a pattern? Exit code 0 either way; the answer is printed.

    Example: podium events test-pattern --pattern '{"source": ["aws.ec2"]}' --event @event.json
    """
    from podium.triggers.bus import test_event_pattern

    _json_mode(ctx, json_output)
    emit(ctx, {"matches": test_event_pattern(_json(pattern, "--pattern"), _json(event, "--event"))})


@app.command("watch")
def watch(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the watch (1-64 characters)."),
    location: str = typer.Argument(..., help="Folder to watch: a path or fsspec URL (s3://bucket/prefix)."),
    existing: bool = typer.Option(False, "--existing", help="Also announce the files already there."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Watch a folder: each new or changed file becomes an `Object Created` event (source
    podium.lake) once the scheduler loop (`podium server` or `podium scheduler`) sees it.

    Example: podium events watch landing ./landing
    """
    from podium.triggers.watch import put_watch

    _json_mode(ctx, json_output)
    emit(ctx, put_watch(cli_state(ctx).store, name, location, announce_existing=existing), title="Watch")


@app.command("watches")
def watches(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List watched folders.

    Example: podium events watches
    """
    from podium.triggers.watch import list_watches

    _json_mode(ctx, json_output)
    emit(ctx, list_watches(cli_state(ctx).store), columns=["name", "location"], title="Watches")


@app.command("unwatch")
def unwatch(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stop watching a folder (what it announced is forgotten).

    Example: podium events unwatch landing
    """
    from podium.triggers.watch import delete_watch

    _json_mode(ctx, json_output)
    delete_watch(cli_state(ctx).store, name)
    emit(ctx, {"deleted": name})
