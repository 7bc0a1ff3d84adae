"""Engine tables: state machines, revisions, versions, aliases, executions, history, tasks, timers.

Revision ID: engine_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "engine_0001"
down_revision = "0001"
branch_labels = ("engine",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_state_machines",
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("arn", sa.String(300), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("revision_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_engine_state_machines"),
        sa.UniqueConstraint("arn", name="uq_engine_state_machines_arn"),
    )
    op.create_table(
        "engine_revisions",
        sa.Column("revision_id", sa.String(64), nullable=False),
        sa.Column("state_machine", sa.String(80), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("revision_id", name="pk_engine_revisions"),
    )
    op.create_table(
        "engine_versions",
        sa.Column("state_machine", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("revision_id", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["state_machine"], ["engine_state_machines.name"], ondelete="CASCADE",
            name="fk_engine_versions_state_machine_engine_state_machines",
        ),
        sa.PrimaryKeyConstraint("state_machine", "version", name="pk_engine_versions"),
    )
    op.create_table(
        "engine_aliases",
        sa.Column("state_machine", sa.String(80), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("routing", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["state_machine"], ["engine_state_machines.name"], ondelete="CASCADE",
            name="fk_engine_aliases_state_machine_engine_state_machines",
        ),
        sa.PrimaryKeyConstraint("state_machine", "name", name="pk_engine_aliases"),
    )
    op.create_table(
        "engine_executions",
        sa.Column("arn", sa.String(400), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("state_machine", sa.String(80), nullable=False),
        sa.Column("revision_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("alias", sa.String(80), nullable=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("cause", sa.Text, nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_state", sa.Text, nullable=True),
        sa.Column("redrive_state", sa.Text, nullable=True),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("wake_at", sa.Float, nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expiry", sa.Float, nullable=True),
        sa.Column("redrive_count", sa.Integer, nullable=False),
        sa.Column("redrive_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("arn", name="pk_engine_executions"),
        sa.UniqueConstraint("state_machine", "name", name="uq_engine_executions_machine_name"),
    )
    op.create_index("ix_engine_executions_wake", "engine_executions", ["status", "wake_at"])
    op.create_index(
        "ix_engine_executions_listing", "engine_executions", ["state_machine", "start_time"]
    )
    op.create_table(
        "engine_history",
        sa.Column("execution_arn", sa.String(400), nullable=False),
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("previous_event_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("execution_arn", "id", name="pk_engine_history"),
    )
    op.create_table(
        "engine_tasks",
        sa.Column("execution_arn", sa.String(400), nullable=False),
        sa.Column("task_id", sa.String(200), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("token", sa.String(2048), nullable=True),
        sa.Column("wait_for_token", sa.Boolean, nullable=False),
        sa.Column("timeout_seconds", sa.Float, nullable=True),
        sa.Column("heartbeat_seconds", sa.Float, nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expiry", sa.Float, nullable=True),
        sa.Column("scheduled_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("execution_arn", "task_id", name="pk_engine_tasks"),
        sa.UniqueConstraint("token", name="uq_engine_tasks_token"),
    )
    op.create_index("ix_engine_tasks_claim", "engine_tasks", ["status", "lease_expiry"])
    op.create_table(
        "engine_task_attempts",
        sa.Column("execution_arn", sa.String(400), nullable=False),
        sa.Column("task_id", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("cause", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint(
            "execution_arn", "task_id", "attempt", name="pk_engine_task_attempts"
        ),
    )
    op.create_table(
        "engine_timers",
        sa.Column("execution_arn", sa.String(400), nullable=False),
        sa.Column("timer_id", sa.String(200), nullable=False),
        sa.Column("due", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("execution_arn", "timer_id", name="pk_engine_timers"),
    )
    op.create_index("ix_engine_timers_due", "engine_timers", ["due"])


def downgrade() -> None:
    for table in (
        "engine_timers", "engine_task_attempts", "engine_tasks",
        "engine_history", "engine_executions", "engine_aliases", "engine_versions",
        "engine_revisions", "engine_state_machines",
    ):
        op.drop_table(table)
