"""Schedule groups, ActionAfterCompletion, context attributes and dead-letter targets, on SQLite
(group deletion and auto-deletion also on PostgreSQL)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store.tables.triggers import triggers_recorded
from podium.triggers.retry import RetryPolicy
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import RecordTarget, TargetRegistry

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def recorded(store) -> list[tuple[str, object]]:
    with store.connect() as connection:
        rows = connection.execute(
            select(triggers_recorded.c.idempotency_key, triggers_recorded.c.payload).order_by(
                triggers_recorded.c.id
            )
        ).all()
    return [(key, json.loads(payload)) for key, payload in rows]


def scheduler_for(store) -> Scheduler:
    targets = TargetRegistry()
    targets.register("rec", RecordTarget(store, "rec"))
    return Scheduler(store, targets)


@pytest.fixture
def scheduler(store) -> Scheduler:
    return scheduler_for(store)


def test_groups_are_created_listed_and_validated(scheduler):
    assert [g.name for g in scheduler.list_groups()] == ["default"]
    made = scheduler.create_group("ml-nightly", description="retraining", now=T0)
    assert made.to_dict()["arn"] == "arn:aws:scheduler:local:000000000000:schedule-group/ml-nightly"
    assert (made.description, made.created_at, made.schedules) == ("retraining", T0, 0)
    with pytest.raises(ConflictError):
        scheduler.create_group("ml-nightly")
    with pytest.raises(ConflictError):
        scheduler.create_group("default")
    with pytest.raises(ValidationError, match="schedule group name"):
        scheduler.create_group("bad/name")
    with pytest.raises(NotFoundError):
        scheduler.get_group("missing")
    with pytest.raises(ValidationError, match="default"):
        scheduler.delete_group("default")
    with pytest.raises(NotFoundError):
        scheduler.delete_group("missing")
    scheduler.create("a", "rate(1 hour)", "rec", group="ml-nightly", now=T0)
    scheduler.create("b", "rate(1 hour)", "rec", now=T0)
    counts = {g.name: g.schedules for g in scheduler.list_groups()}
    assert counts == {"default": 1, "ml-nightly": 1}


def test_a_schedule_name_is_unique_within_its_group_only(scheduler, store):
    scheduler.create_group("team-a")
    in_default = scheduler.create("nightly", "cron(0 2 * * ? *)", "rec", now=T0)
    in_group = scheduler.create("nightly", "cron(0 3 * * ? *)", "rec", group="team-a", now=T0)
    assert in_default.group == "default" and in_group.group == "team-a"
    assert in_group.arn.endswith(":schedule/team-a/nightly")
    with pytest.raises(ConflictError, match="team-a"):
        scheduler.create("nightly", "rate(1 day)", "rec", group="team-a", now=T0)
    with pytest.raises(NotFoundError, match="group 'nope'"):
        scheduler.create("x", "rate(1 day)", "rec", group="nope", now=T0)
    assert scheduler.get("nightly", group="team-a").expression == "cron(0 3 * * ? *)"
    assert [s.name for s in scheduler.list_schedules(group="team-a")] == ["nightly"]
    assert [(s.group, s.name) for s in scheduler.list_schedules()] == [
        ("default", "nightly"), ("team-a", "nightly"),
    ]
    # Each fires on its own, with its own fire records and idempotency keys.
    scheduler.tick(datetime(2026, 1, 6, 3, 0, 1, tzinfo=UTC))
    assert [key for key, _ in recorded(store)] == [
        "schedule:nightly:2026-01-06T02:00:00+00:00",
        "schedule:team-a/nightly:2026-01-06T03:00:00+00:00",
    ]
    (fire,) = scheduler.fires("nightly", group="team-a")
    assert (fire.group, fire.scheduled_time.hour) == ("team-a", 3)
    paused = scheduler.pause("nightly", group="team-a")
    assert paused.state == "DISABLED" and scheduler.get("nightly").state == "ENABLED"
    scheduler.delete("nightly", group="team-a")
    assert scheduler.get("nightly").group == "default"


def test_deleting_a_group_deletes_its_schedules_and_stops_their_fires(any_store):
    scheduler = scheduler_for(any_store)
    scheduler.create_group("batch")
    for name in ("ingest", "train"):
        scheduler.create(name, "cron(* * * * ? *)", "rec", group="batch", now=T0)
    scheduler.create("keep", "cron(* * * * ? *)", "rec", now=T0)
    assert scheduler.tick(at(1)).fires == 3
    assert scheduler.delete_group("batch") == 2
    assert [s.name for s in scheduler.list_schedules()] == ["keep"]
    assert [g.name for g in scheduler.list_groups()] == ["default"]
    assert scheduler.tick(at(2)).fires == 1
    # Fire records of the deleted schedules stay; a new group of that name starts empty.
    assert len(scheduler.fires("ingest", group="batch")) == 1
    assert scheduler.create_group("batch").schedules == 0


def test_action_after_completion_delete_removes_a_one_time_schedule_after_its_fire(any_store):
    scheduler = scheduler_for(any_store)
    scheduler.create("once", "at(2026-01-05T10:05:00)", "rec", action_after_completion="DELETE", now=T0)
    scheduler.create("kept", "at(2026-01-05T10:05:00)", "rec", now=T0)  # NONE, the default
    assert scheduler.tick(at(4)).fires == 0
    assert scheduler.get("once").action_after_completion == "DELETE"
    report = scheduler.tick(at(5))
    assert (report.fires, report.dispatch.succeeded) == (2, 2)
    with pytest.raises(NotFoundError):
        scheduler.get("once")
    assert scheduler.get("kept").next_fire_at is None
    # The deleted schedule's fire was still delivered and recorded.
    assert sorted(key for key, _ in recorded(any_store)) == [
        "schedule:kept:2026-01-05T10:05:00+00:00",
        "schedule:once:2026-01-05T10:05:00+00:00",
    ]
    assert scheduler.fires("once")[0].status == "succeeded"


def test_action_after_completion_delete_waits_for_a_recurring_schedules_last_fire(scheduler):
    scheduler.create(
        "until-noon", "rate(1 hour)", "rec", start=at(0), end=at(150),
        action_after_completion="DELETE", now=T0,
    )
    scheduler.create("forever", "rate(1 hour)", "rec", action_after_completion="DELETE", now=T0)
    assert scheduler.tick(at(0)).fires == 2
    assert scheduler.tick(at(60)).fires == 2
    assert scheduler.get("until-noon").next_fire_at == at(120)
    assert scheduler.tick(at(120)).fires == 2
    with pytest.raises(NotFoundError):
        scheduler.get("until-noon")  # 12:00 was its last fire before the 12:30 end
    scheduler.tick(at(60 * 24))
    assert scheduler.get("forever").next_fire_at is not None  # no end date: never completes
    with pytest.raises(ValidationError, match="action_after_completion"):
        scheduler.create("x", "rate(1 hour)", "rec", action_after_completion="ARCHIVE", now=T0)


def test_context_attributes_are_filled_in_per_fire_and_attempt(store):
    attempts: list[object] = []

    def flaky(payload):
        attempts.append(payload)
        if len(attempts) == 1:
            raise ConnectionError("first attempt fails")

    targets = TargetRegistry()
    targets.register("flaky", flaky)
    scheduler = Scheduler(store, targets)
    scheduler.create_group("ops")
    scheduler.create(
        "report", "cron(0/5 * * * ? *)", "flaky", group="ops",
        input={
            "message": "run at <aws.scheduler.scheduled-time>",
            "schedule": "<aws.scheduler.schedule-arn>",
            "attempt": "<aws.scheduler.attempt-number>",
            "execution": "<aws.scheduler.execution-id>",
        },
        retry_policy=RetryPolicy(max_retry_attempts=2), now=T0,
    )
    scheduler.tick(at(5))
    scheduler.tick(at(6))  # the retry (back-off of about a second)
    first, second = attempts
    assert first["message"] == second["message"] == "run at 2026-01-05T10:05:00Z"
    assert first["schedule"] == "arn:aws:scheduler:local:000000000000:schedule/ops/report"
    assert (first["attempt"], second["attempt"]) == ("1", "2")
    assert len(first["execution"]) == 16 and first["execution"] != second["execution"]
    assert scheduler.get("report", group="ops").input["attempt"] == "<aws.scheduler.attempt-number>"


def test_a_failed_fire_goes_to_the_schedules_dead_letter_target(store):
    targets = TargetRegistry()
    targets.register("dlq", RecordTarget(store, "dlq"))
    targets.register("broken", lambda payload: 1 / 0)
    scheduler = Scheduler(store, targets)
    created = scheduler.create(
        "nightly", "cron(0 2 * * ? *)", "broken", input={"job": "retrain"}, dead_letter="dlq",
        retry_policy=RetryPolicy(max_retry_attempts=0), now=T0,
    )
    assert created.to_dict()["dead_letter"] == "dlq"
    scheduler.tick(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))
    scheduler.tick(datetime(2026, 1, 6, 2, 0, 1, tzinfo=UTC))  # delivers the dead letter
    ((key, message),) = recorded(store)
    assert key == "dead-letter:schedule:nightly:2026-01-06T02:00:00+00:00"
    assert message["payload"] == {"job": "retrain"} and message["reason"] == "retries-exhausted"
    assert "ZeroDivisionError" in message["error"]
    assert scheduler.fires("nightly")[0].status == "failed"


def test_update_changes_only_the_given_fields_and_retimes_from_now(scheduler, store):
    scheduler.create("m", "cron(0/10 * * * ? *)", "rec", input={"v": 1}, description="keep", now=T0)
    assert scheduler.tick(at(10)).fires == 1  # 10:10 fired
    moved = scheduler.update("m", expression="cron(0/15 * * * ? *)", now=at(12))
    assert moved.next_fire_at == at(15) and moved.description == "keep" and moved.input == {"v": 1}
    same = scheduler.update("m", input={"v": 2}, description="new", now=at(13))
    assert same.next_fire_at == at(15) and same.input == {"v": 2}  # timing unchanged
    scheduler.tick(at(15))
    assert [key for key, _ in recorded(store)][-1] == "schedule:m:2026-01-05T10:15:00+00:00"
    assert recorded(store)[-1][1] == {"v": 2}
    # Never back onto a time already fired: 10:15 fired, so the next 15-minute time is 10:30.
    back = scheduler.update("m", timezone="Europe/Paris", now=at(15))
    assert back.next_fire_at == at(30) and back.timezone == "Europe/Paris"
    off = scheduler.update("m", enabled=False, dead_letter="rec", retry_policy=RetryPolicy(3, 600), now=at(16))
    assert (off.state, off.dead_letter, off.retry_policy.max_retry_attempts) == ("DISABLED", "rec", 3)
    with pytest.raises(ValidationError, match="updatable"):
        scheduler.update("m", created_at=T0)
    with pytest.raises(ValidationError, match="cannot be null"):
        scheduler.update("m", description=None)
    with pytest.raises(ValidationError, match="hours"):
        scheduler.update("m", expression="cron(0 25 * * ? *)")
    assert scheduler.get("m").expression == "cron(0/15 * * * ? *)"  # a rejected update changes nothing
    with pytest.raises(NotFoundError):
        scheduler.update("missing", description="x")
