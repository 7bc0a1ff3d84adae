"""Tables of the durable workflow engine: state machines, versions, aliases, executions and their
history, tasks (with their callback tokens and current attempt), abandoned attempts and timers.

Scheduling fields (`wake_at`, `lease_expiry`, `due`) are epoch seconds as floats: the worker
compares them on every poll and floats compare the same way on SQLite and PostgreSQL.
JSON documents (definitions, inputs, run states, history details) are stored as text written
with `json.dumps`, so what is read back is exactly what was written on both databases.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from podium.store.tables.meta import metadata

engine_state_machines = Table(
    "engine_state_machines",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("arn", String(300), nullable=False, unique=True),
    Column("type", String(16), nullable=False),  # STANDARD | EXPRESS
    Column("definition", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("revision_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every definition a state machine has had, by content hash: executions name the revision they
# started on, so updating a state machine never changes a running execution's definition.
engine_revisions = Table(
    "engine_revisions",
    metadata,
    Column("revision_id", String(64), primary_key=True),
    Column("state_machine", String(80), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

engine_versions = Table(
    "engine_versions",
    metadata,
    Column(
        "state_machine",
        String(80),
        ForeignKey("engine_state_machines.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("revision_id", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

engine_aliases = Table(
    "engine_aliases",
    metadata,
    Column(
        "state_machine",
        String(80),
        ForeignKey("engine_state_machines.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(80), primary_key=True),
    # [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}]
    Column("routing", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

engine_executions = Table(
    "engine_executions",
    metadata,
    Column("arn", String(400), primary_key=True),
    # The execution's short key, which its history rows carry instead of the ARN: their index
    # entries stay small, and a newer execution's key is larger than every older one's (it is
    # max + 1 on SQLite, the sequence engine_execution_ids on PostgreSQL).
    Column("id", BigInteger, nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("state_machine", String(80), nullable=False),
    Column("revision_id", String(64), nullable=False),
    Column("version", Integer, nullable=True),
    Column("alias", String(80), nullable=True),
    Column("type", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # RUNNING SUCCEEDED FAILED TIMED_OUT ABORTED
    Column("input", Text, nullable=False),
    Column("output", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("cause", Text, nullable=True),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("stop_time", DateTime(timezone=True), nullable=True),
    Column("run_state", Text, nullable=True),
    # The run state as it was before the step that failed the execution: redrive resumes it.
    Column("redrive_state", Text, nullable=True),
    Column("event_count", Integer, nullable=False, default=0),
    # When the execution next has something to do (a due timer, an EXPRESS lease ending);
    # NULL = nothing until a task result or an API call arrives.
    Column("wake_at", Float, nullable=True),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expiry", Float, nullable=True),
    Column("redrive_count", Integer, nullable=False, default=0),
    Column("redrive_time", DateTime(timezone=True), nullable=True),
    UniqueConstraint("state_machine", "name", name="uq_engine_executions_machine_name"),
    Index("ix_engine_executions_wake", "status", "wake_at"),
    Index("ix_engine_executions_listing", "state_machine", "start_time"),
)

# An execution's history, a row per transition: the events one step produced (consecutive ids
# `id`..`last_id`, one timestamp) in `events`, a JSON array of [previous_event_id, type,
# details]. One row instead of one per event: a Task is five events, and a row each cost every
# Task four more inserts into the table and its key (engine_0003).
engine_history = Table(
    "engine_history",
    metadata,
    Column("execution_id", BigInteger, primary_key=True),  # engine_executions.id
    Column("id", Integer, primary_key=True),
    Column("last_id", Integer, nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("events", Text, nullable=False),
)

# The tasks a worker may claim or renew: the claim index holds only these (a task that ends
# leaves it). A query uses the index when its WHERE has this exact term (see engine_0002).
_CLAIMABLE = "status IN ('SCHEDULED', 'RUNNING')"
CLAIMABLE_TASK = f"engine_tasks.{_CLAIMABLE}"
_HAS_TOKEN = "token IS NOT NULL"

engine_tasks = Table(
    "engine_tasks",
    metadata,
    Column("execution_arn", String(400), primary_key=True),
    Column("task_id", String(200), primary_key=True),
    Column("resource", Text, nullable=False),
    Column("input", Text, nullable=False),
    # SCHEDULED -> RUNNING -> (WAITING for a callback) -> SUCCEEDED | FAILED | CANCELLED
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("token", String(2048), nullable=True),
    Column("wait_for_token", Boolean, nullable=False, default=False),
    Column("timeout_seconds", Float, nullable=True),
    Column("heartbeat_seconds", Float, nullable=True),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expiry", Float, nullable=True),
    Column("scheduled_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    # The current (or last) attempt: the worker that claimed it and when. Kept on the task's row
    # rather than in a row per attempt, which cost every task two more writes and index pages.
    Column("worker", String(100), nullable=True),
    Column("started_at", Float, nullable=True),
    # Partial indexes: a task without a callback token, or one that has ended, adds no entry.
    Index("ix_engine_tasks_token", "token", unique=True,
          sqlite_where=text(_HAS_TOKEN), postgresql_where=text(_HAS_TOKEN)),
    Index("ix_engine_tasks_claim", "status", "lease_expiry",
          sqlite_where=text(_CLAIMABLE), postgresql_where=text(_CLAIMABLE)),
)

# Attempts that ended without a result: ABANDONED when the worker running one died (or stalled
# past its lease) and another worker claimed the task again. A task's current attempt is on its
# row in engine_tasks.
engine_task_attempts = Table(
    "engine_task_attempts",
    metadata,
    Column("execution_arn", String(400), primary_key=True),
    Column("task_id", String(200), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("worker", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # ABANDONED
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("cause", Text, nullable=True),
)

# Due times of the step function's timers: Wait, retry back-off, TimeoutSeconds, HeartbeatSeconds.
engine_timers = Table(
    "engine_timers",
    metadata,
    Column("execution_arn", String(400), primary_key=True),
    Column("timer_id", String(200), primary_key=True),
    Column("due", Float, nullable=False, index=True),
)
