"""Feature store tables: groups, group versions, ingestions, training sets.

Revision ID: features_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "features_0001"
down_revision = "0001"
branch_labels = ("features",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "features_groups",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("online_enabled", sa.Boolean, nullable=False),
        sa.Column("offline_enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_features_groups"),
    )
    op.create_table(
        "features_group_versions",
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "version", name="pk_features_group_versions"),
    )
    op.create_table(
        "features_ingestions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("group_version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("rows_online", sa.Integer, nullable=False),
        sa.Column("write_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_features_ingestions"),
    )
    op.create_index("ix_features_ingestions_group_name", "features_ingestions", ["group_name"])
    op.create_table(
        "features_training_sets",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("entity_source", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status_counts", sa.JSON, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_time_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_time_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_features_training_sets"),
    )


def downgrade() -> None:
    op.drop_table("features_training_sets")
    op.drop_index("ix_features_ingestions_group_name", table_name="features_ingestions")
    op.drop_table("features_ingestions")
    op.drop_table("features_group_versions")
    op.drop_table("features_groups")
