"""serving: metric alarms and their state history.

Revision ID: serving_0002
Revises: serving_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "serving_0002"
down_revision = "serving_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_alarms",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_serving_alarms"),
    )
    op.create_table(
        "serving_alarm_history",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("alarm", sa.String(255), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_serving_alarm_history"),
    )
    op.create_index("ix_serving_alarm_history_alarm", "serving_alarm_history", ["alarm"])


def downgrade() -> None:
    op.drop_table("serving_alarm_history")
    op.drop_table("serving_alarms")
