"""`podium schedule`: EventBridge Scheduler-style schedules — create, inspect, pause, preview —
and `podium schedule group`: the schedule groups they live in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit
from podium.cli.context import parse_when as _when
from podium.errors import ValidationError

app = typer.Typer(
    help="Schedules: cron(...), rate(...) and at(...) expressions that fire a target.",
    no_args_is_help=True,
)
group_app = typer.Typer(
    help="Schedule groups: create, list, describe, delete (deleting a group deletes its schedules).",
    no_args_is_help=True,
)
app.add_typer(group_app, name="group")

LIST_COLUMNS = ["group", "name", "expression", "timezone", "state", "target", "next_fire_at"]
JSON_HELP = "Print machine-readable JSON (same as the global --json)."
GROUP_HELP = "Schedule group (default: the built-in `default` group)."


def _scheduler(ctx: typer.Context, json_output: bool = False):  # type: ignore[no-untyped-def]
    from podium.triggers.scheduler import Scheduler

    state = cli_state(ctx)
    state.json = state.json or json_output
    return Scheduler(state.store)


def _json(text: str | None, option: str) -> Any:
    """JSON given inline, or read from a file when written @path."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise ValidationError(f"{option}: cannot read {text[1:]!r} ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{option}: not valid JSON ({exc.msg})") from None


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Schedule name (letters, digits, '-', '_', '.')."),
    expression: str = typer.Argument(..., help="cron(...), rate(...) or at(...)."),
    target: str = typer.Option(
        ..., "--target", help="What to invoke: workflow:NAME, function:NAME, stream:NAME or a registered name."
    ),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    input: str | None = typer.Option(
        None, "--input",
        help="JSON payload for the target (or @file.json); <aws.scheduler.scheduled-time> and the other context attributes are filled in.",
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone for cron/at."),
    start: str | None = typer.Option(None, "--start", help="No fires before this (ISO 8601, UTC if no offset)."),
    end: str | None = typer.Option(None, "--end", help="No fires at or after this."),
    flexible_window: int | None = typer.Option(None, "--flexible-window", help="Minutes (1-1440); default off."),
    missed: str = typer.Option("once", "--missed", help="After downtime: once | all | skip."),
    action_after_completion: str = typer.Option(
        "NONE", "--action-after-completion", help="NONE, or DELETE to remove the schedule after its last fire."
    ),
    max_retry_attempts: int = typer.Option(185, "--max-retry-attempts", help="0-185."),
    max_event_age: int = typer.Option(86400, "--max-event-age", help="Seconds, 60-86400."),
    dead_letter: str | None = typer.Option(
        None, "--dead-letter", help="Target told of a fire that failed for good, e.g. stream:failures."
    ),
    description: str = typer.Option("", "--description"),
    disabled: bool = typer.Option(False, "--disabled", help="Create paused."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create a schedule.

    Examples:

        podium schedule create nightly "cron(0 2 * * ? *)" --target workflow:retrain --timezone Europe/Paris

        podium schedule create reminder "at(2026-12-01T09:00:00)" --target function:notify --action-after-completion DELETE
    """
    from podium.triggers.retry import RetryPolicy

    schedule = _scheduler(ctx, json_output).create(
        name, expression, target, group=group,
        input=_json(input, "--input"), timezone=timezone,
        start=_when(start, "--start"), end=_when(end, "--end"),
        flexible_window_minutes=flexible_window, missed_fire_policy=missed,
        retry_policy=RetryPolicy(max_retry_attempts, max_event_age),
        action_after_completion=action_after_completion.upper(), dead_letter=dead_letter,
        description=description, enabled=not disabled,
    )
    emit(ctx, schedule.to_dict(), title="Schedule")


@app.command("update")
def update(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    expression: str | None = typer.Option(None, "--expression", help="New cron(...), rate(...) or at(...)."),
    target: str | None = typer.Option(None, "--target"),
    input: str | None = typer.Option(None, "--input", help="New JSON payload."),
    timezone: str | None = typer.Option(None, "--timezone"),
    start: str | None = typer.Option(None, "--start"),
    end: str | None = typer.Option(None, "--end"),
    flexible_window: int | None = typer.Option(None, "--flexible-window", help="Minutes; 0 turns it off."),
    missed: str | None = typer.Option(None, "--missed"),
    action_after_completion: str | None = typer.Option(None, "--action-after-completion"),
    dead_letter: str | None = typer.Option(None, "--dead-letter", help="A target, or '' to remove it."),
    description: str | None = typer.Option(None, "--description"),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Change some fields of a schedule; the rest stay. A new expression, time zone, start,
    end or window moves the next fire to the first new time after now.

    Example: podium schedule update nightly --expression "cron(30 2 * * ? *)"
    """
    changes: dict[str, Any] = {}
    for key, value in (("expression", expression), ("target", target), ("timezone", timezone),
                       ("flexible_window_minutes", flexible_window), ("missed_fire_policy", missed),
                       ("description", description)):
        if value is not None:
            changes[key] = value
    if input is not None:
        changes["input"] = _json(input, "--input")
    if start is not None:
        changes["start"] = _when(start, "--start")
    if end is not None:
        changes["end"] = _when(end, "--end")
    if action_after_completion is not None:
        changes["action_after_completion"] = action_after_completion.upper()
    if dead_letter is not None:
        changes["dead_letter"] = dead_letter or None
    if not changes:
        raise ValidationError("nothing to update: give at least one option (see --help)")
    schedule = _scheduler(ctx, json_output).update(name, group=group, **changes)
    emit(ctx, schedule.to_dict(), title="Schedule")


@app.command("list")
def list_schedules(
    ctx: typer.Context,
    group: str | None = typer.Option(None, "--group", "-g", help="Only this group's schedules."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List schedules (of every group, or of one).

    Example: podium schedule list --group ml-nightly
    """
    schedules = _scheduler(ctx, json_output).list_schedules(group=group)
    emit(ctx, [s.to_dict() for s in schedules], columns=LIST_COLUMNS, title="Schedules")


@app.command("describe")
def describe(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    fires: int = typer.Option(10, "--fires", help="How many recent fire records to show."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a schedule and its recent fires (scheduled time, lateness, status).

    Example: podium schedule describe nightly --fires 5
    """
    scheduler = _scheduler(ctx, json_output)
    data = scheduler.get(name, group=group).to_dict()
    data["recent_fires"] = [f.to_dict() for f in scheduler.fires(name, group=group, limit=fires)]
    emit(ctx, data, title=f"Schedule {group}/{name}")


@app.command("fires")
def fires(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    limit: int = typer.Option(20, "--limit", "-n", help="How many, newest first."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List a schedule's fire records, newest first (kept after the schedule is deleted).

    Example: podium schedule fires nightly -n 5
    """
    rows = [f.to_dict() for f in _scheduler(ctx, json_output).fires(name, group=group, limit=limit)]
    emit(ctx, rows, columns=["scheduled_time", "fired_at", "lateness_seconds", "status", "missed", "error"],
         title=f"Fires of {group}/{name}")


@app.command("pause")
def pause(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Pause a schedule (no fires until resumed).

    Example: podium schedule pause nightly
    """
    emit(ctx, _scheduler(ctx, json_output).pause(name, group=group).to_dict(), title="Schedule")


@app.command("resume")
def resume(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Resume a paused schedule from its next time (paused fires are not made up).

    Example: podium schedule resume nightly
    """
    emit(ctx, _scheduler(ctx, json_output).resume(name, group=group).to_dict(), title="Schedule")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a schedule (its fire records stay).

    Example: podium schedule delete nightly
    """
    _scheduler(ctx, json_output).delete(name, group=group)
    emit(ctx, {"deleted": name, "group": group})


@app.command("next")
def next_fires(
    ctx: typer.Context,
    name_or_expression: str = typer.Argument(
        ..., help="A schedule name, or an expression to preview without creating anything."
    ),
    group: str = typer.Option("default", "--group", "-g", help=GROUP_HELP),
    count: int = typer.Option(10, "--count", "-n", help="How many fire times."),
    timezone: str = typer.Option("UTC", "--timezone", help="For previewing an expression."),
    after: str | None = typer.Option(None, "--after", help="Start from this time (default: now)."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show upcoming fire times, in UTC and in the schedule's time zone.

    Example: podium schedule next "cron(0/30 20-2 ? * MON-FRI *)" --timezone America/New_York -n 5
    """
    from zoneinfo import ZoneInfo

    from podium.triggers.timing import ScheduleTiming

    moment = _when(after, "--after") or datetime.now(UTC)
    if name_or_expression.strip().split("(")[0] in ("cron", "rate", "at"):
        cli_state(ctx).json = cli_state(ctx).json or json_output
        timing = ScheduleTiming.create(name_or_expression, timezone=timezone, created_at=moment)
    else:
        timing = _scheduler(ctx, json_output).get(name_or_expression, group=group).timing
    zone = ZoneInfo(timing.timezone)
    rows = [
        {
            "utc": fire.isoformat(),
            "local": fire.astimezone(zone).isoformat(),
            "weekday": fire.astimezone(zone).strftime("%a"),
        }
        for fire in timing.upcoming(count, moment)
    ]
    emit(ctx, rows, columns=["utc", "local", "weekday"], title=f"Next fires ({timing.timezone})")


# ---- groups ------------------------------------------------------------------------


@group_app.command("create")
def group_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Group name (letters, digits, '-', '_', '.')."),
    description: str = typer.Option("", "--description"),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create a schedule group.

    Example: podium schedule group create ml-nightly --description "nightly retraining"
    """
    emit(ctx, _scheduler(ctx, json_output).create_group(name, description=description).to_dict(),
         title="Schedule group")


@group_app.command("list")
def group_list(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List schedule groups with how many schedules each holds.

    Example: podium schedule group list
    """
    rows = [g.to_dict() for g in _scheduler(ctx, json_output).list_groups()]
    emit(ctx, rows, columns=["name", "state", "schedules", "description", "created_at"],
         title="Schedule groups")


@group_app.command("describe")
def group_describe(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a schedule group and the names of its schedules.

    Example: podium schedule group describe ml-nightly
    """
    scheduler = _scheduler(ctx, json_output)
    data = scheduler.get_group(name).to_dict()
    data["schedule_names"] = [s.name for s in scheduler.list_schedules(group=name)]
    emit(ctx, data, title=f"Schedule group {name}")


@group_app.command("delete")
def group_delete(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a schedule group and every schedule in it (fire records stay).

    Example: podium schedule group delete ml-nightly
    """
    removed = _scheduler(ctx, json_output).delete_group(name)
    emit(ctx, {"deleted": name, "schedules_deleted": removed})
