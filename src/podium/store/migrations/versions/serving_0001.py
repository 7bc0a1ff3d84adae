"""serving: endpoint configs, endpoints, deployments, deployment events.

Revision ID: serving_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "serving_0001"
down_revision = "0001"
branch_labels = ("serving",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_endpoint_configs",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("shadow_variants", sa.JSON, nullable=False),
        sa.Column("data_capture", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_serving_endpoint_configs"),
    )
    op.create_table(
        "serving_endpoints",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("config_name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_serving_endpoints"),
        sa.ForeignKeyConstraint(["config_name"], ["serving_endpoint_configs.name"],
                                name="fk_serving_endpoints_config_name_serving_endpoint_configs"),
    )
    op.create_table(
        "serving_deployments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(63), nullable=False),
        sa.Column("from_config", sa.String(63)),
        sa.Column("to_config", sa.String(63), nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_serving_deployments"),
    )
    op.create_index("ix_serving_deployments_endpoint", "serving_deployments", ["endpoint"])
    op.create_table(
        "serving_deployment_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("deployment_id", sa.Integer, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("green_share", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_serving_deployment_events"),
        sa.ForeignKeyConstraint(["deployment_id"], ["serving_deployments.id"],
                                name="fk_serving_deployment_events_deployment_id_serving_deployments"),
    )
    op.create_index("ix_serving_deployment_events_deployment", "serving_deployment_events",
                    ["deployment_id"])


def downgrade() -> None:
    for table in ("serving_deployment_events", "serving_deployments", "serving_endpoints",
                  "serving_endpoint_configs"):
        op.drop_table(table)
