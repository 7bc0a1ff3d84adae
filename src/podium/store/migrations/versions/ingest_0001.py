"""Batch ingestion tables: jobs, bookmarks, runs, run inputs, output manifest, quarantine.

Revision ID: ingest_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ingest_0001"
down_revision = "0001"
branch_labels = ("ingest",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_jobs",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("bookmark_option", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_ingest_jobs"),
    )
    op.create_table(
        "ingest_bookmarks",
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("head_run_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_name", name="pk_ingest_bookmarks"),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("job_version", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bookmark_option", sa.String(16), nullable=False),
        sa.Column("bookmark_parent", sa.String(64), nullable=True),
        sa.Column("bookmark_advanced", sa.Boolean, nullable=False),
        sa.Column("key_high", sa.JSON, nullable=True),
        sa.Column("files_read", sa.Integer, nullable=False),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("rows_written", sa.BigInteger, nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger, nullable=False),
        sa.Column("rows_filtered", sa.BigInteger, nullable=False),
        sa.Column("bytes_read", sa.BigInteger, nullable=False),
        sa.Column("bytes_written", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("details", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_runs"),
    )
    op.create_index("ix_ingest_runs_job_name", "ingest_runs", ["job_name"])
    op.create_table(
        "ingest_run_inputs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "path", name="pk_ingest_run_inputs"),
    )
    op.create_table(
        "ingest_output_files",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "path", name="pk_ingest_output_files"),
    )
    op.create_index("ix_ingest_output_files_dataset", "ingest_output_files", ["dataset"])
    op.create_table(
        "ingest_quarantine",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "kind", name="pk_ingest_quarantine"),
    )


def downgrade() -> None:
    op.drop_table("ingest_quarantine")
    op.drop_index("ix_ingest_output_files_dataset", table_name="ingest_output_files")
    op.drop_table("ingest_output_files")
    op.drop_table("ingest_run_inputs")
    op.drop_index("ix_ingest_runs_job_name", table_name="ingest_runs")
    op.drop_table("ingest_runs")
    op.drop_table("ingest_bookmarks")
    op.drop_table("ingest_jobs")
