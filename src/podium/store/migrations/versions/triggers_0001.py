"""Triggers tables: schedules, fires, rules, events, deliveries, dead letters, recorded.

Revision ID: triggers_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "triggers_0001"
down_revision = "0001"
branch_labels = ("triggers",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "triggers_schedules",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("expression", sa.String(256), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("start_at", sa.Float, nullable=True),
        sa.Column("end_at", sa.Float, nullable=True),
        sa.Column("flexible_window_minutes", sa.Integer, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("input", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("missed_fire_policy", sa.String(16), nullable=False),
        sa.Column("max_retry_attempts", sa.Integer, nullable=False),
        sa.Column("max_event_age_seconds", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("next_fire_at", sa.Float, nullable=True),
        sa.Column("due_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_triggers_schedules"),
    )
    op.create_index("ix_triggers_schedules_due", "triggers_schedules", ["state", "due_at"])
    op.create_table(
        "triggers_fires",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("scheduled_time", sa.Float, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("claimed_at", sa.Float, nullable=False),
        sa.Column("fired_at", sa.Float, nullable=True),
        sa.Column("lateness_seconds", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("missed", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_triggers_fires"),
        sa.UniqueConstraint("schedule", "scheduled_time", name="uq_triggers_fires_schedule_time"),
    )
    op.create_table(
        "triggers_rules",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("pattern", sa.Text, nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_triggers_rules"),
    )
    op.create_table(
        "triggers_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("detail_type", sa.String(256), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("ingested_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triggers_events"),
    )
    op.create_index("ix_triggers_events_time", "triggers_events", ["time"])
    op.create_table(
        "triggers_deliveries",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("origin_name", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.String(400), nullable=False),
        sa.Column("fire_id", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_retry_attempts", sa.Integer, nullable=False),
        sa.Column("max_event_age_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_triggers_deliveries"),
        sa.UniqueConstraint("idempotency_key", name="uq_triggers_deliveries_idempotency_key"),
    )
    op.create_index(
        "ix_triggers_deliveries_due", "triggers_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "triggers_dead_letters",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("origin_name", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triggers_dead_letters"),
    )
    op.create_table(
        "triggers_recorded",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(400), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triggers_recorded"),
        sa.UniqueConstraint("label", "idempotency_key", name="uq_triggers_recorded_label"),
    )


def downgrade() -> None:
    for table in (
        "triggers_recorded", "triggers_dead_letters", "triggers_deliveries", "triggers_events",
        "triggers_rules", "triggers_fires", "triggers_schedules",
    ):
        op.drop_table(table)
