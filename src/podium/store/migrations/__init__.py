"""Alembic migrations of the metadata store (one branch per area, all off revision 0001)."""
