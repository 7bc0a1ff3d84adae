"""Triggers: schedule groups, ActionAfterCompletion, dead-letter targets, replay records.

A schedule is now named within its group (primary key (group_name, name)); existing
schedules and fire records move to the `default` group. Rule and schedule origins of a
delivery may be `group/name`, so origin names widen to 200 characters.

Revision ID: triggers_0004
Revises: triggers_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "triggers_0004"
down_revision = "triggers_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers_schedule_groups",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_triggers_schedule_groups"),
    )
    op.create_table(
        "triggers_replays",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float, nullable=False),
        sa.Column("rules", sa.Text, nullable=True),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_triggers_replays"),
    )
    with op.batch_alter_table("triggers_schedules") as batch:
        batch.add_column(
            sa.Column("group_name", sa.String(64), nullable=False, server_default="default")
        )
        batch.add_column(
            sa.Column(
                "action_after_completion", sa.String(8), nullable=False, server_default="NONE"
            )
        )
        batch.add_column(sa.Column("dead_letter", sa.String(200), nullable=True))
        batch.drop_constraint("pk_triggers_schedules", type_="primary")
        batch.create_primary_key("pk_triggers_schedules", ["group_name", "name"])
    with op.batch_alter_table("triggers_fires") as batch:
        batch.add_column(
            sa.Column("schedule_group", sa.String(64), nullable=False, server_default="default")
        )
        batch.drop_constraint("uq_triggers_fires_schedule_time", type_="unique")
        batch.create_unique_constraint(
            "uq_triggers_fires_group_schedule_time",
            ["schedule_group", "schedule", "scheduled_time"],
        )
    for table in ("triggers_deliveries", "triggers_dead_letters"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "origin_name", existing_type=sa.String(64), type_=sa.String(200),
                existing_nullable=False,
            )
            if table == "triggers_deliveries":
                batch.add_column(sa.Column("dead_letter", sa.String(200), nullable=True))


def downgrade() -> None:
    for table in ("triggers_dead_letters", "triggers_deliveries"):
        with op.batch_alter_table(table) as batch:
            if table == "triggers_deliveries":
                batch.drop_column("dead_letter")
            batch.alter_column(
                "origin_name", existing_type=sa.String(200), type_=sa.String(64),
                existing_nullable=False,
            )
    with op.batch_alter_table("triggers_fires") as batch:
        batch.drop_constraint("uq_triggers_fires_group_schedule_time", type_="unique")
        batch.create_unique_constraint(
            "uq_triggers_fires_schedule_time", ["schedule", "scheduled_time"]
        )
        batch.drop_column("schedule_group")
    with op.batch_alter_table("triggers_schedules") as batch:
        batch.drop_constraint("pk_triggers_schedules", type_="primary")
        batch.create_primary_key("pk_triggers_schedules", ["name"])
        batch.drop_column("dead_letter")
        batch.drop_column("action_after_completion")
        batch.drop_column("group_name")
    op.drop_table("triggers_replays")
    op.drop_table("triggers_schedule_groups")
