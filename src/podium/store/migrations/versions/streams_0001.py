"""Streams tables: consumer shard leases, delivery stream definitions.

Revision ID: streams_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "streams_0001"
down_revision = "0001"
branch_labels = ("streams",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "streams_leases",
        sa.Column("application", sa.String(128), nullable=False),
        sa.Column("stream", sa.String(128), nullable=False),
        sa.Column("shard_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_counter", sa.BigInteger, nullable=False),
        sa.Column("checkpoint", sa.String(64), nullable=False),
        sa.Column("parent_shard_id", sa.String(64), nullable=True),
        sa.Column("adjacent_parent_shard_id", sa.String(64), nullable=True),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
        sa.Column("owner_switches", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application", "stream", "shard_id", name="pk_streams_leases"),
    )
    op.create_table(
        "streams_delivery",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_streams_delivery"),
    )


def downgrade() -> None:
    op.drop_table("streams_delivery")
    op.drop_table("streams_leases")
