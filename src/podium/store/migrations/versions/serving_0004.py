"""serving: committed routing state per endpoint, and deployment owners with leases, so several
router processes on one store follow each other's deployments.

Revision ID: serving_0004
Revises: serving_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "serving_0004"
down_revision = "serving_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("serving_endpoints") as batch:
        batch.add_column(sa.Column("routing", sa.JSON, nullable=True))
        batch.add_column(sa.Column("generation", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("serving_deployments") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("serving_deployments") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("owner")
    with op.batch_alter_table("serving_endpoints") as batch:
        batch.drop_column("generation")
        batch.drop_column("routing")
