"""Engine: fewer rows and index pages written per task transition.

- A task's current attempt (its worker and start time) moves onto its row in engine_tasks;
  engine_task_attempts keeps only attempts that ended without a result (ABANDONED). Before,
  every attempt was a row inserted when it started and updated when it ended.
- The callback-token index holds only tasks that have a token (`.waitForTaskToken`): a task
  without one no longer adds a NULL entry to a unique index at every insert.
- The claim index holds only tasks a worker may claim or renew (SCHEDULED, RUNNING): a task
  that ends leaves it, instead of moving to a SUCCEEDED or FAILED range nothing looks up.
- An execution has a short integer key (`id`, increasing with start time; a sequence on
  PostgreSQL), which its history rows carry instead of its ~100-character ARN.

Existing tasks take their latest attempt's worker and start time; existing executions are
numbered in start order and their history rows follow them.

Revision ID: engine_0002
Revises: engine_0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "engine_0002"
down_revision = "engine_0001"
branch_labels = None
depends_on = None

HAS_TOKEN = sa.text("token IS NOT NULL")
CLAIMABLE = sa.text("status IN ('SCHEDULED', 'RUNNING')")
_LATEST = (
    "FROM engine_task_attempts a WHERE a.execution_arn = engine_tasks.execution_arn"
    " AND a.task_id = engine_tasks.task_id AND a.attempt = engine_tasks.attempt"
)


_HISTORY_COLUMNS = "id, previous_event_id, type, timestamp, details"


def _history_table(key: "sa.Column[Any]") -> None:
    op.create_table(
        "engine_history",
        key,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("previous_event_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(key.name, "id", name="pk_engine_history"),
    )


def _set_aside_history() -> None:
    op.rename_table("engine_history", "engine_history_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint names are per schema there
        op.execute("ALTER TABLE engine_history_old RENAME CONSTRAINT pk_engine_history TO pk_engine_history_old")


def upgrade() -> None:
    with op.batch_alter_table("engine_tasks") as batch:
        batch.add_column(sa.Column("worker", sa.String(100), nullable=True))
        batch.add_column(sa.Column("started_at", sa.Float, nullable=True))
        batch.drop_constraint("uq_engine_tasks_token", type_="unique")
    op.execute(
        f"UPDATE engine_tasks SET worker = (SELECT a.worker {_LATEST}),"
        f" started_at = (SELECT a.started_at {_LATEST}) WHERE attempt > 0"
    )
    op.execute("DELETE FROM engine_task_attempts WHERE status <> 'ABANDONED'")
    op.create_index(
        "ix_engine_tasks_token", "engine_tasks", ["token"], unique=True,
        sqlite_where=HAS_TOKEN, postgresql_where=HAS_TOKEN,
    )
    op.drop_index("ix_engine_tasks_claim", table_name="engine_tasks")
    op.create_index(
        "ix_engine_tasks_claim", "engine_tasks", ["status", "lease_expiry"],
        sqlite_where=CLAIMABLE, postgresql_where=CLAIMABLE,
    )

    with op.batch_alter_table("engine_executions") as batch:
        batch.add_column(sa.Column("id", sa.BigInteger, nullable=True))
    op.execute(
        "UPDATE engine_executions SET id = numbered.n FROM (SELECT arn, row_number() OVER"
        " (ORDER BY start_time, arn) AS n FROM engine_executions) AS numbered"
        " WHERE engine_executions.arn = numbered.arn"
    )
    with op.batch_alter_table("engine_executions") as batch:
        batch.alter_column("id", existing_type=sa.BigInteger, nullable=False)
        batch.create_unique_constraint("uq_engine_executions_id", ["id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE engine_execution_ids OWNED BY engine_executions.id")
        op.execute(
            "SELECT setval('engine_execution_ids', coalesce((SELECT max(id) FROM engine_executions), 0) + 1, false)"
        )
        op.execute("ALTER TABLE engine_executions ALTER COLUMN id SET DEFAULT nextval('engine_execution_ids')")
    _set_aside_history()
    _history_table(sa.Column("execution_id", sa.BigInteger, nullable=False))
    op.execute(
        f"INSERT INTO engine_history (execution_id, {_HISTORY_COLUMNS}) SELECT x.id, h.id,"
        " h.previous_event_id, h.type, h.timestamp, h.details FROM engine_history_old h"
        " JOIN engine_executions x ON x.arn = h.execution_arn"
    )
    op.drop_table("engine_history_old")


def downgrade() -> None:
    _set_aside_history()
    _history_table(sa.Column("execution_arn", sa.String(400), nullable=False))
    op.execute(
        f"INSERT INTO engine_history (execution_arn, {_HISTORY_COLUMNS}) SELECT x.arn, h.id,"
        " h.previous_event_id, h.type, h.timestamp, h.details FROM engine_history_old h"
        " JOIN engine_executions x ON x.id = h.execution_id"
    )
    op.drop_table("engine_history_old")
    with op.batch_alter_table("engine_executions") as batch:
        batch.drop_constraint("uq_engine_executions_id", type_="unique")
        batch.drop_column("id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS engine_execution_ids")
    op.drop_index("ix_engine_tasks_claim", table_name="engine_tasks")
    op.create_index("ix_engine_tasks_claim", "engine_tasks", ["status", "lease_expiry"])
    op.drop_index("ix_engine_tasks_token", table_name="engine_tasks")
    # Each task's current attempt becomes an attempt row again (a cancelled task's attempt was
    # left RUNNING, as engine_0001's engine did).
    op.execute(
        "INSERT INTO engine_task_attempts (execution_arn, task_id, attempt, worker, status, started_at,"
        " finished_at) SELECT execution_arn, task_id, attempt, worker,"
        " CASE WHEN status = 'CANCELLED' THEN 'RUNNING' ELSE status END, started_at, finished_at"
        " FROM engine_tasks WHERE attempt > 0 AND worker IS NOT NULL AND started_at IS NOT NULL"
    )
    with op.batch_alter_table("engine_tasks") as batch:
        batch.create_unique_constraint("uq_engine_tasks_token", ["token"])
        batch.drop_column("started_at")
        batch.drop_column("worker")
