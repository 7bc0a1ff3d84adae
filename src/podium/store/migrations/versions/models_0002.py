"""models: a model version's output example, beside its input example and signature.

Revision ID: models_0002
Revises: models_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "models_0002"
down_revision = "models_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models_packages") as batch:
        batch.add_column(sa.Column("output_example", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models_packages") as batch:
        batch.drop_column("output_example")
