"""Triggers: the folder watchers' record of announced files.

Revision ID: triggers_0002
Revises: triggers_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "triggers_0002"
down_revision = "triggers_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers_watch_seen",
        sa.Column("watch", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("watch", "path", name="pk_triggers_watch_seen"),
    )


def downgrade() -> None:
    op.drop_table("triggers_watch_seen")
