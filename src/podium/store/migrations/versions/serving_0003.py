"""serving: metric buckets shared by router processes.

Revision ID: serving_0003
Revises: serving_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "serving_0003"
down_revision = "serving_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_metric_buckets",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("dimensions", sa.String(1000), nullable=False),
        sa.Column("second", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("histogram", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("name", "dimensions", "second", "source", name="pk_serving_metric_buckets"),
    )
    op.create_index("ix_serving_metric_buckets_second", "serving_metric_buckets", ["second"])


def downgrade() -> None:
    op.drop_table("serving_metric_buckets")
