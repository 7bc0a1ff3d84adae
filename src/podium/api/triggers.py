"""HTTP routes of podium.triggers: /schedules and /schedule-groups (EventBridge Scheduler) and
/events (the bus). A schedule outside the `default` group is addressed with `?group=NAME`.

The routes define and inspect; firing and delivery are done by the server's scheduler
loop, which holds the registered targets (`context.services["triggers.targets"]`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from podium.api.deps import AppContext, get_context

if TYPE_CHECKING:
    from podium.triggers.bus import EventBus
    from podium.triggers.scheduler import Scheduler
    from podium.triggers.targets import TargetRegistry

router = APIRouter(tags=["triggers"])


def _targets(context: AppContext) -> TargetRegistry:
    from podium.triggers.targets import TargetRegistry

    targets: TargetRegistry = context.services.setdefault("triggers.targets", TargetRegistry())
    return targets


def _scheduler(context: AppContext) -> Scheduler:
    from podium.triggers.scheduler import Scheduler

    return Scheduler(context.store, _targets(context))


def _bus(context: AppContext) -> EventBus:
    from podium.triggers.bus import EventBus

    # One bus per server keeps the compiled rule set between requests.
    if "triggers.bus" not in context.services:
        context.services["triggers.bus"] = EventBus(context.store, _targets(context))
    bus: EventBus = context.services["triggers.bus"]
    return bus


class ScheduleRequest(BaseModel):
    name: str
    expression: str
    target: str
    group: str = "default"
    input: Any = None
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    flexible_window_minutes: int | None = None
    missed_fire_policy: str = "once"
    max_retry_attempts: int = 185
    max_event_age_seconds: int = 86_400
    action_after_completion: str = "NONE"
    dead_letter: str | None = None
    description: str = ""
    enabled: bool = True


class ScheduleUpdateRequest(BaseModel):
    """Only the fields sent are changed."""

    expression: str | None = None
    target: str | None = None
    input: Any = None
    timezone: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    flexible_window_minutes: int | None = None
    missed_fire_policy: str | None = None
    max_retry_attempts: int | None = None
    max_event_age_seconds: int | None = None
    action_after_completion: str | None = None
    dead_letter: str | None = None
    description: str | None = None
    enabled: bool | None = None


class ScheduleGroupRequest(BaseModel):
    name: str
    description: str = ""


class PutEventsRequest(BaseModel):
    entries: list[dict[str, Any]] = Field(..., description="1-10 events: source, detail-type, detail")


class RuleRequest(BaseModel):
    pattern: dict[str, Any]
    targets: list[dict[str, Any]] = []
    description: str = ""
    enabled: bool = True


class WatchRequest(BaseModel):
    location: str
    announce_existing: bool = False


class PatternTestRequest(BaseModel):
    pattern: dict[str, Any]
    event: dict[str, Any]


class ReplayRequest(BaseModel):
    name: str
    start: datetime
    end: datetime
    rules: list[str] | None = None


@router.get("/schedule-groups", summary="List schedule groups")
def list_groups(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    return [g.to_dict() for g in _scheduler(context).list_groups()]


@router.post("/schedule-groups", status_code=201, summary="Create a schedule group")
def create_group(body: ScheduleGroupRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _scheduler(context).create_group(body.name, description=body.description).to_dict()


@router.get("/schedule-groups/{name}", summary="A schedule group")
def get_group(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _scheduler(context).get_group(name).to_dict()


@router.delete("/schedule-groups/{name}", summary="Delete a schedule group and all its schedules")
def delete_group(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return {"deleted": name, "schedules_deleted": _scheduler(context).delete_group(name)}


@router.get("/schedules", summary="List schedules (all, or of one group)")
def list_schedules(
    group: str | None = None, context: AppContext = Depends(get_context)
) -> list[dict[str, Any]]:
    return [s.to_dict() for s in _scheduler(context).list_schedules(group=group)]


@router.post("/schedules", status_code=201, summary="Create a schedule (cron, rate or at)")
def create_schedule(body: ScheduleRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.triggers.retry import RetryPolicy

    schedule = _scheduler(context).create(
        body.name, body.expression, body.target, group=body.group, input=body.input,
        timezone=body.timezone, start=body.start, end=body.end,
        flexible_window_minutes=body.flexible_window_minutes,
        missed_fire_policy=body.missed_fire_policy,
        retry_policy=RetryPolicy(body.max_retry_attempts, body.max_event_age_seconds),
        action_after_completion=body.action_after_completion, dead_letter=body.dead_letter,
        description=body.description, enabled=body.enabled,
    )
    return schedule.to_dict()


@router.get("/schedules/{name}", summary="A schedule")
def get_schedule(
    name: str, group: str = "default", context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return _scheduler(context).get(name, group=group).to_dict()


@router.patch("/schedules/{name}", summary="Change some fields of a schedule")
def update_schedule(
    name: str, body: ScheduleUpdateRequest, group: str = "default",
    context: AppContext = Depends(get_context),
) -> dict[str, Any]:
    from podium.triggers.retry import RetryPolicy

    scheduler = _scheduler(context)
    changes = body.model_dump(exclude_unset=True)
    attempts = changes.pop("max_retry_attempts", None)
    age = changes.pop("max_event_age_seconds", None)
    if attempts is not None or age is not None:
        current = scheduler.get(name, group=group).retry_policy
        changes["retry_policy"] = RetryPolicy(
            attempts if attempts is not None else current.max_retry_attempts,
            age if age is not None else current.max_event_age_seconds,
        )
    return scheduler.update(name, group=group, **changes).to_dict()


@router.delete("/schedules/{name}", status_code=204, summary="Delete a schedule")
def delete_schedule(name: str, group: str = "default", context: AppContext = Depends(get_context)) -> None:
    _scheduler(context).delete(name, group=group)


@router.post("/schedules/{name}/pause", summary="Pause a schedule")
def pause_schedule(
    name: str, group: str = "default", context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return _scheduler(context).pause(name, group=group).to_dict()


@router.post("/schedules/{name}/resume", summary="Resume a schedule from its next time")
def resume_schedule(
    name: str, group: str = "default", context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return _scheduler(context).resume(name, group=group).to_dict()


@router.get("/schedules/{name}/next", summary="Upcoming fire times (UTC)")
def next_fires(
    name: str, count: int = 10, after: datetime | None = None, group: str = "default",
    context: AppContext = Depends(get_context),
) -> list[str]:
    moment = after or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    upcoming = _scheduler(context).upcoming(name, min(count, 1000), group=group, after=moment)
    return [f.isoformat() for f in upcoming]


@router.get("/schedules/{name}/fires", summary="Recent fire records with lateness")
def fires(
    name: str, limit: int = 100, group: str = "default", context: AppContext = Depends(get_context)
) -> list[dict[str, Any]]:
    return [f.to_dict() for f in _scheduler(context).fires(name, group=group, limit=limit)]


@router.post("/events", summary="Put events on the bus (PutEvents, partial failure)")
def put_events(body: PutEventsRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    """Each entry is validated on its own, as in EventBridge: the valid ones are stored;
    `entries` has, in request order, `event_id` or `error_code`/`error_message`;
    `event_ids` lists the stored events' ids. Only a batch of 0 or >10 entries is a 400."""
    result = _bus(context).put_events_detailed(body.entries)
    return {**result.to_dict(), "event_ids": result.event_ids}


@router.get("/events", summary="Archived events in a time range")
def archived_events(
    start: datetime | None = None, end: datetime | None = None, limit: int = 100,
    source: str | None = None, context: AppContext = Depends(get_context),
) -> list[dict[str, Any]]:
    return _bus(context).events(start, end, limit=min(limit, 10_000), source=source)


@router.delete("/events", summary="Purge archived events older than `before` (retention)")
def purge_events(before: datetime, context: AppContext = Depends(get_context)) -> dict[str, int]:
    return {"purged": _bus(context).purge_archive(before)}


@router.delete("/events/deliveries", summary="Purge finished deliveries (retention)")
def purge_deliveries(
    older_than_seconds: float, context: AppContext = Depends(get_context)
) -> dict[str, int]:
    """Delete succeeded and dead deliveries finished more than `older_than_seconds` ago
    (at least the delivery lease, 300 s); dead letters are kept."""
    return {"purged": _bus(context).purge_deliveries(older_than_seconds)}


@router.get("/events/deliveries", summary="Deliveries to targets with status and attempts")
def deliveries(
    status: str | None = None, origin: str | None = None, limit: int = 100,
    context: AppContext = Depends(get_context),
) -> list[dict[str, Any]]:
    return _bus(context).deliveries(status=status, origin_name=origin, limit=min(limit, 10_000))


@router.get("/events/dead-letters", summary="Deliveries that failed for good, with the reason")
def dead_letters(
    origin: str | None = None, limit: int = 100, context: AppContext = Depends(get_context)
) -> list[dict[str, Any]]:
    return _bus(context).dead_letters(origin_name=origin, limit=min(limit, 10_000))


@router.get("/events/rules", summary="List rules")
def list_rules(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    return [r.to_dict() for r in _bus(context).list_rules()]


@router.put("/events/rules/{name}", summary="Create or replace a rule (pattern validated)")
def put_rule(name: str, body: RuleRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    rule = _bus(context).put_rule(
        name, body.pattern, body.targets, description=body.description, enabled=body.enabled
    )
    return rule.to_dict()


@router.get("/events/rules/{name}", summary="A rule")
def get_rule(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _bus(context).get_rule(name).to_dict()


@router.delete("/events/rules/{name}", status_code=204, summary="Delete a rule")
def delete_rule(name: str, context: AppContext = Depends(get_context)) -> None:
    _bus(context).delete_rule(name)


@router.post("/events/rules/{name}/enable", summary="Enable a rule")
def enable_rule(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _bus(context).set_rule_state(name, True).to_dict()


@router.post("/events/rules/{name}/disable", summary="Disable a rule")
def disable_rule(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _bus(context).set_rule_state(name, False).to_dict()


@router.post("/events/test-pattern", summary="Does an event match a pattern? (TestEventPattern)")
def test_pattern(body: PatternTestRequest) -> dict[str, bool]:
    from podium.triggers.bus import test_event_pattern

    return {"matches": test_event_pattern(body.pattern, body.event)}


@router.post("/events/replays", status_code=201, summary="Replay archived events of a time range")
def replay(body: ReplayRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    queued = _bus(context).replay(body.name, body.start, body.end, rules=body.rules)
    return {"name": body.name, "deliveries": queued}


@router.get("/events/replays", summary="Replays run so far")
def list_replays(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    return _bus(context).replays()


@router.get("/events/watches", summary="Watched folders")
def list_watches(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    from podium.triggers.watch import list_watches as stored

    return stored(context.store)


@router.put("/events/watches/{name}", summary="Watch a folder: new files become Object Created events")
def put_watch(name: str, body: WatchRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.triggers.watch import put_watch as store_watch

    return store_watch(context.store, name, body.location, announce_existing=body.announce_existing)


@router.delete("/events/watches/{name}", status_code=204, summary="Stop watching a folder")
def delete_watch(name: str, context: AppContext = Depends(get_context)) -> None:
    from podium.triggers.watch import delete_watch as forget

    forget(context.store, name)
