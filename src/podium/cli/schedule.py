"""`podium schedule`: EventBridge Scheduler-style schedules — create, inspect, pause, preview."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer

from podium.cli.context import cli_state, emit
from podium.errors import ValidationError

app = typer.Typer(
    help="Schedules: cron(...), rate(...) and at(...) expressions that fire a target.",
    no_args_is_help=True,
)

LIST_COLUMNS = ["name", "expression", "timezone", "state", "target", "next_fire_at"]


def _scheduler(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from podium.triggers.scheduler import Scheduler

    return Scheduler(cli_state(ctx).store)


def _json(text: str | None, option: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{option}: not valid JSON ({exc.msg})") from None


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{option}: not an ISO 8601 date-time ({text!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Schedule name (letters, digits, '-', '_', '.')."),
    expression: str = typer.Argument(..., help="cron(...), rate(...) or at(...)."),
    target: str = typer.Option(..., "--target", help="Name of the registered target to invoke."),
    input: str | None = typer.Option(None, "--input", help="JSON payload for the target."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone for cron/at."),
    start: str | None = typer.Option(None, "--start", help="No fires before this (ISO 8601, UTC if no offset)."),
    end: str | None = typer.Option(None, "--end", help="No fires at or after this."),
    flexible_window: int | None = typer.Option(None, "--flexible-window", help="Minutes (1-1440)."),
    missed: str = typer.Option("once", "--missed", help="After downtime: once | all | skip."),
    max_retry_attempts: int = typer.Option(185, "--max-retry-attempts", help="0-185."),
    max_event_age: int = typer.Option(86400, "--max-event-age", help="Seconds, 60-86400."),
    description: str = typer.Option("", "--description"),
    disabled: bool = typer.Option(False, "--disabled", help="Create paused."),
) -> None:
    """Create a schedule.

    Example: podium schedule create nightly "cron(0 2 * * ? *)" --target retrain --timezone Europe/Paris
    """
    from podium.triggers.retry import RetryPolicy

    schedule = _scheduler(ctx).create(
        name, expression, target,
        input=_json(input, "--input"), timezone=timezone,
        start=_when(start, "--start"), end=_when(end, "--end"),
        flexible_window_minutes=flexible_window, missed_fire_policy=missed,
        retry_policy=RetryPolicy(max_retry_attempts, max_event_age),
        description=description, enabled=not disabled,
    )
    emit(ctx, schedule.to_dict(), title="Schedule")


@app.command("list")
def list_schedules(ctx: typer.Context) -> None:
    """List schedules.

    Example: podium schedule list
    """
    emit(ctx, [s.to_dict() for s in _scheduler(ctx).list_schedules()], columns=LIST_COLUMNS, title="Schedules")


@app.command("describe")
def describe(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    fires: int = typer.Option(10, "--fires", help="How many recent fire records to show."),
) -> None:
    """Show a schedule and its recent fires.

    Example: podium schedule describe nightly --fires 5
    """
    scheduler = _scheduler(ctx)
    data = scheduler.get(name).to_dict()
    data["recent_fires"] = [
        {
            "scheduled_time": f.scheduled_time.isoformat(),
            "fired_at": f.fired_at.isoformat() if f.fired_at else None,
            "lateness_seconds": f.lateness_seconds,
            "status": f.status,
            "missed": f.missed,
        }
        for f in scheduler.fires(name, limit=fires)
    ]
    emit(ctx, data, title=f"Schedule {name}")


@app.command("pause")
def pause(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Pause a schedule (no fires until resumed).

    Example: podium schedule pause nightly
    """
    emit(ctx, _scheduler(ctx).pause(name).to_dict(), title="Schedule")


@app.command("resume")
def resume(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Resume a paused schedule from its next time (paused fires are not made up).

    Example: podium schedule resume nightly
    """
    emit(ctx, _scheduler(ctx).resume(name).to_dict(), title="Schedule")


@app.command("delete")
def delete(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a schedule (its fire records stay).

    Example: podium schedule delete nightly
    """
    _scheduler(ctx).delete(name)
    emit(ctx, {"deleted": name})


@app.command("next")
def next_fires(
    ctx: typer.Context,
    name_or_expression: str = typer.Argument(
        ..., help="A schedule name, or an expression to preview without creating anything."
    ),
    count: int = typer.Option(10, "--count", "-n", help="How many fire times."),
    timezone: str = typer.Option("UTC", "--timezone", help="For previewing an expression."),
    after: str | None = typer.Option(None, "--after", help="Start from this time (default: now)."),
) -> None:
    """Show upcoming fire times, in UTC and in the schedule's time zone.

    Example: podium schedule next "cron(0/30 20-2 ? * MON-FRI *)" --timezone America/New_York -n 5
    """
    from zoneinfo import ZoneInfo

    from podium.triggers.timing import ScheduleTiming

    moment = _when(after, "--after") or datetime.now(UTC)
    if name_or_expression.strip().split("(")[0] in ("cron", "rate", "at"):
        timing = ScheduleTiming.create(name_or_expression, timezone=timezone, created_at=moment)
    else:
        timing = _scheduler(ctx).get(name_or_expression).timing
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
