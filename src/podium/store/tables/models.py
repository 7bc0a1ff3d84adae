"""Tables of podium.models: training jobs and their metrics, the model registry, lineage."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from podium.store.tables.meta import metadata

models_training_jobs = Table(
    "models_training_jobs",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("secondary_status", String(40), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("failure_reason", Text),
    Column("exit_code", Integer),
    Column("attempt", Integer, nullable=False),
    Column("job_dir", Text, nullable=False),
    Column("model_artifact", Text),
    Column("artifact_sha256", String(64)),
    Column("artifact_bytes", BigInteger),
    Column("final_metrics", JSON),
    Column("stop_requested", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
)

models_training_metrics = Table(
    "models_training_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_name", String(63), ForeignKey("models_training_jobs.name", ondelete="CASCADE"),
           nullable=False),
    Column("metric", String(255), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Index("ix_models_training_metrics_job", "job_name", "metric", "step"),
)

models_package_groups = Table(
    "models_package_groups",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

models_packages = Table(
    "models_packages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_name", String(63), ForeignKey("models_package_groups.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text),
    Column("artifact_uri", Text, nullable=False),
    Column("artifact_sha256", String(64)),
    Column("training_job", String(63)),
    Column("metrics", JSON, nullable=False),
    Column("hyperparameters", JSON, nullable=False),
    Column("inference", JSON, nullable=False),
    Column("input_example", JSON),
    Column("output_example", JSON),  # models_0002
    Column("signature", JSON),
    Column("approval_status", String(30), nullable=False),
    Column("approval_by", String(255)),
    Column("approval_at", DateTime(timezone=True)),
    Column("approval_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("group_name", "version", name="uq_models_packages_group_version"),
)

# Outbox of model events (status changes): the event bus delivers them to rules and targets.
models_events = Table(
    "models_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("detail_type", String(255), nullable=False),
    Column("resource", String(255), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("published", Boolean, nullable=False),
)

lineage_entities = Table(
    "lineage_entities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),  # artifact | action
    Column("type", String(40), nullable=False),  # dataset, model, training-job, ...
    Column("name", Text, nullable=False),
    Column("uri", Text),
    Column("properties", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

lineage_associations = Table(
    "lineage_associations",
    metadata,
    Column("source_id", String(64), ForeignKey("lineage_entities.id"), primary_key=True),
    Column("destination_id", String(64), ForeignKey("lineage_entities.id"), primary_key=True),
    Column("type", String(30), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_lineage_associations_destination", "destination_id"),
)
