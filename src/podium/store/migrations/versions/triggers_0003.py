"""Triggers: the outbox of Podium's own events, the record of announced producer rows, and
the folders the scheduler loop watches.

Revision ID: triggers_0003
Revises: triggers_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "triggers_0003"
down_revision = "triggers_0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "triggers_outbox",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("detail_type", sa.String(256), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triggers_outbox"),
    )
    op.create_table(
        "triggers_announced",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("announced_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name="pk_triggers_announced"),
    )
    op.create_table(
        "triggers_watches",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_triggers_watches"),
    )


def downgrade() -> None:
    op.drop_table("triggers_watches")
    op.drop_table("triggers_announced")
    op.drop_table("triggers_outbox")
