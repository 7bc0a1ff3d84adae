"""models: training jobs, metrics, model registry, model events, lineage graph.

Revision ID: models_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "models_0001"
down_revision = "0001"
branch_labels = ("models",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models_training_jobs",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("secondary_status", sa.String(40), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("exit_code", sa.Integer),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("job_dir", sa.Text, nullable=False),
        sa.Column("model_artifact", sa.Text),
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("artifact_bytes", sa.BigInteger),
        sa.Column("final_metrics", sa.JSON),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("name", name="pk_models_training_jobs"),
    )
    op.create_table(
        "models_training_metrics",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("job_name", sa.String(63), nullable=False),
        sa.Column("metric", sa.String(255), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models_training_metrics"),
        sa.ForeignKeyConstraint(
            ["job_name"], ["models_training_jobs.name"], ondelete="CASCADE",
            name="fk_models_training_metrics_job_name_models_training_jobs",
        ),
    )
    op.create_index(
        "ix_models_training_metrics_job", "models_training_metrics", ["job_name", "metric", "step"]
    )
    op.create_table(
        "models_package_groups",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_models_package_groups"),
    )
    op.create_table(
        "models_packages",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("group_name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("training_job", sa.String(63)),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("hyperparameters", sa.JSON, nullable=False),
        sa.Column("inference", sa.JSON, nullable=False),
        sa.Column("input_example", sa.JSON),
        sa.Column("signature", sa.JSON),
        sa.Column("approval_status", sa.String(30), nullable=False),
        sa.Column("approval_by", sa.String(255)),
        sa.Column("approval_at", sa.DateTime(timezone=True)),
        sa.Column("approval_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models_packages"),
        sa.ForeignKeyConstraint(
            ["group_name"], ["models_package_groups.name"],
            name="fk_models_packages_group_name_models_package_groups",
        ),
        sa.UniqueConstraint("group_name", "version", name="uq_models_packages_group_version"),
    )
    op.create_table(
        "models_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail_type", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models_events"),
    )
    op.create_table(
        "lineage_entities",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("uri", sa.Text),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_entities"),
    )
    op.create_table(
        "lineage_associations",
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("destination_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "destination_id", "type", name="pk_lineage_associations"),
        sa.ForeignKeyConstraint(
            ["source_id"], ["lineage_entities.id"],
            name="fk_lineage_associations_source_id_lineage_entities",
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"], ["lineage_entities.id"],
            name="fk_lineage_associations_destination_id_lineage_entities",
        ),
    )
    op.create_index(
        "ix_lineage_associations_destination", "lineage_associations", ["destination_id"]
    )


def downgrade() -> None:
    for table in (
        "lineage_associations", "lineage_entities", "models_events", "models_packages",
        "models_package_groups", "models_training_metrics", "models_training_jobs",
    ):
        op.drop_table(table)
