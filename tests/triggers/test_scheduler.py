"""The durable scheduler on real SQLite and PostgreSQL: claims, missed fires, retries,
dead letters, restarts, and two schedulers racing without double fires."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store.tables.triggers import (
    triggers_dead_letters,
    triggers_deliveries,
    triggers_recorded,
)
from podium.triggers.retry import RetryPolicy
from podium.triggers.scheduler import Scheduler, plan_fires
from podium.triggers.targets import RecordTarget, TargetRegistry
from podium.triggers.timing import ScheduleTiming

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def recorded(store, label="rec") -> list[str]:
    with store.connect() as connection:
        return list(
            connection.execute(
                select(triggers_recorded.c.idempotency_key)
                .where(triggers_recorded.c.label == label)
                .order_by(triggers_recorded.c.idempotency_key)
            ).scalars()
        )


def registry_for(store) -> TargetRegistry:
    registry = TargetRegistry()
    registry.register("rec", RecordTarget(store, "rec"))
    return registry


# The claim, catch-up, retry and crash paths run on both databases; the rest on SQLite
# only (each PostgreSQL test pays for a freshly migrated schema).
@pytest.fixture
def targets(store) -> TargetRegistry:
    return registry_for(store)


@pytest.fixture
def scheduler(store, targets) -> Scheduler:
    return Scheduler(store, targets)


def test_create_describe_list_and_errors(scheduler):
    created = scheduler.create(
        "nightly", "cron(0 2 * * ? *)", "rec", input={"job": "retrain"},
        timezone="Europe/Paris", now=T0,
    )
    assert created.next_fire_at == datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
    assert created.state == "ENABLED" and created.missed_fire_policy == "once"
    assert scheduler.get("nightly").input == {"job": "retrain"}
    assert [s.name for s in scheduler.list_schedules()] == ["nightly"]
    with pytest.raises(ConflictError):
        scheduler.create("nightly", "rate(1 day)", "rec", now=T0)
    with pytest.raises(ValidationError, match="schedule name"):
        scheduler.create("bad name!", "rate(1 day)", "rec", now=T0)
    with pytest.raises(ValidationError, match="missed_fire_policy"):
        scheduler.create("x", "rate(1 day)", "rec", missed_fire_policy="twice", now=T0)
    with pytest.raises(ValidationError, match="hours"):
        scheduler.create("x", "cron(0 25 * * ? *)", "rec", now=T0)
    with pytest.raises(NotFoundError):
        scheduler.get("missing")
    scheduler.delete("nightly")
    with pytest.raises(NotFoundError):
        scheduler.delete("nightly")


def test_a_due_fire_is_claimed_once_and_recorded_with_lateness(any_store):
    scheduler = Scheduler(any_store, registry_for(any_store))
    scheduler.create("every5", "cron(0/5 * * * ? *)", "rec", input={"n": 1}, now=at(1))
    assert scheduler.tick(at(4, 59)).fires == 0
    report = scheduler.tick(at(5, 0.25))
    assert (report.claimed, report.fires, report.dispatch.succeeded) == (1, 1, 1)
    assert scheduler.tick(at(5, 30)).fires == 0
    assert recorded(any_store) == ["schedule:every5:2026-01-05T10:05:00+00:00"]
    (fire,) = scheduler.fires("every5")
    assert fire.scheduled_time == at(5) and fire.status == "succeeded" and fire.missed == 0
    assert 0.25 <= fire.lateness_seconds < 1.0
    assert scheduler.get("every5").next_fire_at == at(10)


@pytest.mark.parametrize(
    ("policy", "expected_fires", "expected_missed"),
    [("once", [at(10)], [10]), ("all", [at(m) for m in range(11)], [0] * 11)],
)
def test_missed_fires_after_downtime(any_store, policy, expected_fires, expected_missed):
    scheduler = Scheduler(any_store, registry_for(any_store))
    scheduler.create("minutely", "cron(* * * * ? *)", "rec", missed_fire_policy=policy, now=T0)
    report = scheduler.tick(at(10, 30))  # the scheduler was down from 10:00 to 10:10:30
    assert report.fires == len(expected_fires)
    fires = sorted(scheduler.fires("minutely", limit=50), key=lambda f: f.scheduled_time)
    assert [f.scheduled_time for f in fires] == expected_fires
    assert [f.missed for f in fires] == expected_missed
    assert len(recorded(any_store)) == len(expected_fires)
    assert scheduler.get("minutely").next_fire_at == at(11)


def test_skip_policy_drops_fires_that_are_too_late(scheduler, store):
    scheduler.create("hourly", "cron(0 * * * ? *)", "rec", missed_fire_policy="skip", now=at(-90))
    assert scheduler.tick(at(30)).fires == 0  # 09:00 and 10:00 missed, 10:00 is 30 min late
    assert scheduler.get("hourly").next_fire_at == at(60)
    assert scheduler.tick(at(60, 20)).fires == 1  # 20 s late: within the grace period
    assert recorded(store) == ["schedule:hourly:2026-01-05T11:00:00+00:00"]


def test_plan_fires_is_pure_and_bounded():
    timing = ScheduleTiming.create("cron(* * * * ? *)")
    plan = plan_fires(timing, "s", T0, T0 + timedelta(days=2), "all")
    assert len(plan.fires) == 1000  # the rest are caught up on the next ticks
    assert plan.next_fire == T0 + timedelta(minutes=1000)
    plan = plan_fires(timing, "s", T0, T0 - timedelta(seconds=1), "once")
    assert plan.fires == () and plan.next_fire == T0


def test_pause_and_resume_do_not_make_up_paused_fires(scheduler, store):
    scheduler.create("m", "cron(* * * * ? *)", "rec", now=T0)
    scheduler.pause("m", now=at(0, 10))
    assert scheduler.tick(at(5)).fires == 0
    resumed = scheduler.resume("m", now=at(7, 30))
    assert resumed.state == "ENABLED" and resumed.next_fire_at == at(8)
    assert scheduler.tick(at(8)).fires == 1
    assert recorded(store) == ["schedule:m:2026-01-05T10:08:00+00:00"]


def test_one_time_schedule_fires_once_then_is_done(scheduler, store):
    scheduler.create("once", "at(2026-01-05T11:00:00)", "rec", timezone="Europe/Paris", now=T0)
    assert scheduler.get("once").next_fire_at == at(0)
    assert scheduler.tick(at(0)).fires == 1
    assert scheduler.get("once").next_fire_at is None
    assert scheduler.tick(at(60 * 24 * 365)).fires == 0


def test_flexible_window_delays_the_due_time(scheduler):
    created = scheduler.create("flex", "cron(0 12 * * ? *)", "rec", flexible_window_minutes=30, now=T0)
    offset = created.due_at - created.next_fire_at
    assert timedelta(0) <= offset < timedelta(minutes=30)
    assert scheduler.tick(created.next_fire_at + offset - timedelta(seconds=1)).fires == (
        1 if offset == timedelta(0) else 0
    )
    assert scheduler.tick(created.due_at).fires == (0 if offset == timedelta(0) else 1)


def dead_letters(store):
    with store.connect() as connection:
        return connection.execute(select(triggers_dead_letters)).all()


def test_failing_target_is_retried_then_dead_lettered(any_store):
    targets = registry_for(any_store)
    calls = []

    def flaky(payload):
        calls.append(payload)
        raise RuntimeError("model registry unavailable")

    targets.register("flaky", flaky)
    scheduler = Scheduler(any_store, targets)
    scheduler.create(
        "retrain", "cron(0 11 * * ? *)", "flaky", input={"k": 1},
        retry_policy=RetryPolicy(max_retry_attempts=2, max_event_age_seconds=3600), now=T0,
    )
    report = scheduler.tick(at(60))
    assert report.dispatch.retrying == 1 and calls == [{"k": 1}]
    assert scheduler.fires("retrain")[0].status == "retrying"
    # Back-off: nothing is due again immediately, then attempts 2 and 3 happen.
    assert scheduler.dispatcher.dispatch((at(60)).timestamp()).attempted == 0
    for minute in (61, 62):
        assert scheduler.dispatcher.dispatch(at(minute).timestamp()).attempted == 1
    assert len(calls) == 3
    (letter,) = dead_letters(any_store)
    assert letter.reason == "retries-exhausted" and letter.attempts == 3
    assert "model registry unavailable" in letter.error
    assert scheduler.fires("retrain")[0].status == "failed"
    assert scheduler.dispatcher.dispatch(at(120).timestamp()).attempted == 0


def test_max_event_age_ends_retries(store, targets):
    targets.register("down", lambda payload: 1 / 0)
    scheduler = Scheduler(store, targets)
    scheduler.create(
        "s", "cron(0 11 * * ? *)", "down",
        retry_policy=RetryPolicy(max_retry_attempts=185, max_event_age_seconds=60), now=T0,
    )
    scheduler.tick(at(60))
    scheduler.dispatcher.dispatch(at(62).timestamp())
    scheduler.dispatcher.dispatch(at(64).timestamp())
    letters = dead_letters(store)
    assert [letter.reason for letter in letters] == ["max-age-exceeded"]


def test_unknown_target_is_dead_lettered_at_once(scheduler, store):
    scheduler.create("s", "cron(0 11 * * ? *)", "nowhere", now=T0)
    scheduler.tick(at(60))
    (letter,) = dead_letters(store)
    assert letter.reason == "target-not-found" and "'nowhere' is not registered" in letter.error


def test_a_fire_claimed_before_a_crash_is_delivered_by_the_next_scheduler(any_store):
    targets = registry_for(any_store)
    first = Scheduler(any_store, targets)
    first.create("s", "cron(0 11 * * ? *)", "rec", now=T0)
    assert first._claim_batch(at(60).timestamp()) == (1, 1)  # claimed, then "killed"
    second = Scheduler(any_store, targets)
    report = second.tick(at(60, 5))
    assert (report.fires, report.dispatch.succeeded) == (0, 1)
    assert recorded(any_store) == ["schedule:s:2026-01-05T11:00:00+00:00"]


def test_an_expired_lease_is_redelivered_with_the_same_key(store, targets):
    scheduler = Scheduler(store, targets)
    scheduler.create("s", "cron(0 11 * * ? *)", "rec", now=T0)
    scheduler._claim_batch(at(60).timestamp())
    claimed = scheduler.dispatcher._claim(at(60).timestamp())  # a dispatcher that then dies
    assert len(claimed) == 1
    assert scheduler.dispatcher.dispatch(at(61).timestamp()).attempted == 0  # lease held
    report = scheduler.dispatcher.dispatch(at(60).timestamp() + 301)
    assert report.succeeded == 1
    assert recorded(store) == ["schedule:s:2026-01-05T11:00:00+00:00"]
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(triggers_deliveries)).scalar() == 1


@pytest.mark.postgres
def test_two_schedulers_racing_on_postgresql_never_double_fire(pg_store):
    invocations: Counter[str] = Counter()
    lock = threading.Lock()

    def count(invocation):
        with lock:
            invocations[invocation.idempotency_key] += 1

    from podium.triggers.targets import CallableTarget

    def make() -> Scheduler:
        registry = TargetRegistry()
        registry.register("count", CallableTarget(count, wants_invocation=True))
        return Scheduler(pg_store, registry, batch_size=7)

    setup = make()
    for i in range(40):
        setup.create(f"s{i:02d}", "cron(* * * * ? *)", "count", now=T0)
    minutes = 15
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(scheduler: Scheduler) -> None:
        try:
            for minute in range(minutes):
                barrier.wait()
                scheduler.tick(at(minute, 1))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(make(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    make().tick(at(minutes, 1) - timedelta(minutes=1))  # deliver anything left pending
    assert len(invocations) == 40 * minutes
    assert set(invocations.values()) == {1}
