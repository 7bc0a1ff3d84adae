"""Data catalog metadata: tables and every schema version each one has had."""

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, Text

from podium.store.tables.meta import metadata

# A table of files in the lake (or anywhere fsspec reaches). `managed_by` names the batch
# job that writes it and `dataset` its lake dataset: such tables are read through the
# committed file manifest, never by listing files.
catalog_tables = Table(
    "catalog_tables",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("location", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("partition_keys", JSON, nullable=False),
    Column("read_options", JSON, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("description", Text, nullable=True),
    Column("managed_by", String(64), nullable=True),
    Column("dataset", String(128), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Schema versions: columns [{name, type}], partition keys, and what changed from the
# previous version ({added, removed, retyped}).
catalog_schema_versions = Table(
    "catalog_schema_versions",
    metadata,
    Column("table_name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("columns", JSON, nullable=False),
    Column("partition_keys", JSON, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("files", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
