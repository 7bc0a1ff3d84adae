"""Catalog tables: tables and their schema versions.

Revision ID: catalog_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "catalog_0001"
down_revision = "0001"
branch_labels = ("catalog",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_tables",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("partition_keys", sa.JSON, nullable=False),
        sa.Column("read_options", sa.JSON, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("managed_by", sa.String(64), nullable=True),
        sa.Column("dataset", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_catalog_tables"),
    )
    op.create_table(
        "catalog_schema_versions",
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("partition_keys", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "version", name="pk_catalog_schema_versions"),
    )


def downgrade() -> None:
    op.drop_table("catalog_schema_versions")
    op.drop_table("catalog_tables")
