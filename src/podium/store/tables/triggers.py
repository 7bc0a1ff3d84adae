"""Tables of podium.triggers: schedules and their fire records, event-bus rules, the event
archive, target deliveries (with retries), dead letters, and the record-to-table target.

Times are epoch seconds as floats, as in the engine's tables: the scheduler compares them
on every tick and floats compare identically on SQLite and PostgreSQL. Whole-second fire
times are exact in a double, so (schedule, scheduled_time) is a safe unique key. JSON
documents are text written with `json.dumps`.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from podium.store.tables.meta import metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer, "sqlite")

# Schedule groups besides `default`, which always exists and is not stored.
triggers_schedule_groups = Table(
    "triggers_schedule_groups",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

triggers_schedules = Table(
    "triggers_schedules",
    metadata,
    # A schedule is named within its group, as in EventBridge Scheduler.
    Column("group_name", String(64), primary_key=True, server_default="default"),
    Column("name", String(64), primary_key=True),
    Column("expression", String(256), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("start_at", Float, nullable=True),
    Column("end_at", Float, nullable=True),
    Column("flexible_window_minutes", Integer, nullable=False),
    Column("target", String(200), nullable=False),
    Column("input", Text, nullable=True),
    Column("state", String(16), nullable=False),  # ENABLED | DISABLED
    Column("missed_fire_policy", String(16), nullable=False),  # once | all | skip
    Column("max_retry_attempts", Integer, nullable=False),
    Column("max_event_age_seconds", Integer, nullable=False),
    Column("dead_letter", String(200), nullable=True),  # target told of a failed fire
    Column("description", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The next nominal fire time and when it is due (nominal + flexible-window offset);
    # both NULL once the schedule has no fires left.
    Column("next_fire_at", Float, nullable=True),
    Column("due_at", Float, nullable=True),
    # NONE | DELETE: DELETE removes the schedule once its last fire is made.
    Column("action_after_completion", String(8), nullable=False, server_default="NONE"),
    Index("ix_triggers_schedules_due", "state", "due_at"),
)

triggers_fires = Table(
    "triggers_fires",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("schedule_group", String(64), nullable=False, server_default="default"),
    Column("schedule", String(64), nullable=False),
    Column("scheduled_time", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("claimed_at", Float, nullable=False),
    Column("fired_at", Float, nullable=True),
    Column("lateness_seconds", Float, nullable=True),
    Column("status", String(16), nullable=False),  # pending | succeeded | failed
    Column("missed", Integer, nullable=False),  # earlier missed fires folded into this one
    Column("error", Text, nullable=True),
    UniqueConstraint(
        "schedule_group", "schedule", "scheduled_time",
        name="uq_triggers_fires_group_schedule_time",
    ),
)

triggers_rules = Table(
    "triggers_rules",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("pattern", Text, nullable=False),
    Column("targets", Text, nullable=False),
    Column("state", String(16), nullable=False),  # ENABLED | DISABLED
    Column("description", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

triggers_events = Table(
    "triggers_events",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", String(256), nullable=False),
    Column("detail_type", String(256), nullable=False),
    Column("document", Text, nullable=False),  # the whole event envelope
    Column("time", Float, nullable=False),
    Column("ingested_at", Float, nullable=False),
    Index("ix_triggers_events_time", "time"),
)

triggers_deliveries = Table(
    "triggers_deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("origin", String(16), nullable=False),  # schedule | rule
    Column("origin_name", String(200), nullable=False),  # rule, schedule or group/schedule
    Column("target", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("idempotency_key", String(400), nullable=False),
    Column("fire_id", BigInteger, nullable=True),
    Column("dead_letter", String(200), nullable=True),  # target told of a final failure
    Column("status", String(16), nullable=False),  # pending | running | succeeded | dead
    Column("attempts", Integer, nullable=False),
    Column("max_retry_attempts", Integer, nullable=False),
    Column("max_event_age_seconds", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("idempotency_key", name="uq_triggers_deliveries_idempotency_key"),
    Index("ix_triggers_deliveries_due", "status", "next_attempt_at"),
)

triggers_dead_letters = Table(
    "triggers_dead_letters",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, nullable=False),
    Column("origin", String(16), nullable=False),
    Column("origin_name", String(200), nullable=False),  # rule, schedule or group/schedule
    Column("target", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("reason", String(32), nullable=False),  # retries-exhausted | max-age-exceeded | ...
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", Float, nullable=False),
)

# What RecordTarget writes: one row per idempotency key, however often it is invoked.
triggers_recorded = Table(
    "triggers_recorded",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("label", String(200), nullable=False),
    Column("idempotency_key", String(400), nullable=False),
    Column("payload", Text, nullable=False),
    Column("recorded_at", Float, nullable=False),
    UniqueConstraint("label", "idempotency_key", name="uq_triggers_recorded_label"),
)

# What each folder watcher has already announced: a file is announced again only when its
# signature (size and modification time) changes.
triggers_watch_seen = Table(
    "triggers_watch_seen",
    metadata,
    Column("watch", String(64), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("signature", String(200), nullable=False),
    Column("seen_at", Float, nullable=False),
)

# Podium's own events, written by their producers inside the producer's transaction
# (`podium.triggers.outbox.record_event`); the outbox publisher moves them onto the bus and
# deletes them in one transaction.
triggers_outbox = Table(
    "triggers_outbox",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("source", String(256), nullable=False),
    Column("detail_type", String(256), nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Column("resources", Text, nullable=False),  # JSON array of strings
    Column("time", Float, nullable=False),
)

# Producer records announced as events once, keyed by (source, key): finished deployments
# read from serving's own table are announced exactly once even with several publishers.
triggers_announced = Table(
    "triggers_announced",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("announced_at", Float, nullable=False),
)

# Replays of archived events: one row per replay name (a name runs once).
triggers_replays = Table(
    "triggers_replays",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float, nullable=False),
    Column("rules", Text, nullable=True),  # JSON array of rule names, or NULL for all
    Column("events", Integer, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # COMPLETED
    Column("started_at", Float, nullable=False),
)

# Folders the scheduler loop watches (`podium events watch`): name -> location (any fsspec URL).
triggers_watches = Table(
    "triggers_watches",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("location", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
