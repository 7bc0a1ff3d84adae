"""Tables the foundation itself needs: facts about this metadata store."""

from sqlalchemy import Column, DateTime, String, Table, Text

from podium.store.tables.meta import metadata

# Key/value facts about the store: its id, when it was created, by which Podium version.
core_info = Table(
    "core_info",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
