"""Feature store metadata: group definitions and their versions, ingestions, training sets."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from podium.store.tables.meta import metadata

# The current definition of each feature group (the full definition is the JSON document;
# the other columns are there to list and filter without parsing it).
features_groups = Table(
    "features_groups",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("online_enabled", Boolean, nullable=False),
    Column("offline_enabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every schema version a group has had; versions only ever add features.
features_group_versions = Table(
    "features_group_versions",
    metadata,
    Column("group_name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per write into a group (batch ingest, put_record, delete, materialise). The id
# orders writes: rows written at the same write_time are tie-broken by it.
features_ingestions = Table(
    "features_ingestions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_name", String(64), nullable=False),
    Column("group_version", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("rows_online", Integer, nullable=False),
    Column("write_time", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("details", JSON, nullable=True),
    Index("ix_features_ingestions_group_name", "group_name"),
)

# One row per training set built: which groups, from what entity table, how many rows.
features_training_sets = Table(
    "features_training_sets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("groups", JSON, nullable=False),
    Column("entity_source", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("status_counts", JSON, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=True),
    Column("event_time_start", DateTime(timezone=True), nullable=True),
    Column("event_time_end", DateTime(timezone=True), nullable=True),
    Column("output", Text, nullable=True),
    Column("duration_seconds", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
