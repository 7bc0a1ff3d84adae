"""The triggers_0004 migration on a store that already holds schedules, fires and deliveries."""

from sqlalchemy import text

from podium.store import migrate
from podium.store.tables import metadata
from podium.triggers.scheduler import Scheduler


def test_existing_schedules_move_to_the_default_group(any_store):
    engine = any_store.engine
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(engine, "triggers_0003")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO triggers_schedules (name, expression, timezone, flexible_window_minutes,"
            " target, input, state, missed_fire_policy, max_retry_attempts, max_event_age_seconds,"
            " description, created_at, updated_at, next_fire_at, due_at) VALUES ('old',"
            " 'rate(1 hour)', 'UTC', 0, 'rec', '{\"k\": 1}', 'ENABLED', 'once', 185, 86400, '',"
            " 1767607200, 1767607200, 1767607200, 1767607200)"
        ))
        connection.execute(text(
            "INSERT INTO triggers_fires (schedule, scheduled_time, due_at, claimed_at, status,"
            " missed) VALUES ('old', 1767603600, 1767603600, 1767603600, 'succeeded', 0)"
        ))
    migrate.upgrade(engine)
    scheduler = Scheduler(any_store)
    old = scheduler.get("old")
    assert (old.group, old.action_after_completion, old.dead_letter) == ("default", "NONE", None)
    assert old.input == {"k": 1}
    assert scheduler.fires("old")[0].group == "default"
    # The new primary key lets the same name live in another group.
    scheduler.create_group("other")
    scheduler.create("old", "rate(1 day)", "rec", group="other")
    assert len(scheduler.list_schedules()) == 2
