"""Tables of podium.serving: endpoint configs, endpoints, deployments and their traffic shifts,
metric alarms and the metric buckets router processes share."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from podium.store.tables.meta import metadata

serving_endpoint_configs = Table(
    "serving_endpoint_configs",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("variants", JSON, nullable=False),
    Column("shadow_variants", JSON, nullable=False),
    Column("data_capture", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

serving_endpoints = Table(
    "serving_endpoints",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("config_name", String(63), ForeignKey("serving_endpoint_configs.name"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The committed routing state every router process applies (podium.serving.routing.Placement,
    # as JSON; NULL: not serving), and a number raised with each change of it, so a process
    # notices a change by reading one integer per endpoint.
    Column("routing", JSON),
    Column("generation", Integer, nullable=False, server_default="0"),
)

serving_deployments = Table(
    "serving_deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(63), nullable=False),
    Column("from_config", String(63)),
    Column("to_config", String(63), nullable=False),
    Column("policy", JSON, nullable=False),
    Column("outcome", String(20), nullable=False),  # InProgress | Succeeded | RolledBack | Failed
    Column("reason", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    # The router process running an in-progress deployment and until when (epoch seconds) its
    # lease holds; it renews the lease while it runs. Another process takes over (fails or rolls
    # back) a deployment only once the lease has expired.
    Column("owner", String(64)),
    Column("lease_until", Float),
    Index("ix_serving_deployments_endpoint", "endpoint"),
)

serving_deployment_events = Table(
    "serving_deployment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, ForeignKey("serving_deployments.id"), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("green_share", Float, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_serving_deployment_events_deployment", "deployment_id"),
)

# Metric alarms (podium.metrics): the definition as PutMetricAlarm gave it, the last state seen,
# and every state change, so a restarted server keeps them and deployments can roll back on them.
serving_alarms = Table(
    "serving_alarms",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

serving_alarm_history = Table(
    "serving_alarm_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm", String(255), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_serving_alarm_history_alarm", "alarm"),
)

# Metric buckets each router process publishes about once a second (podium.metrics.shared), so
# an alarm or a view sees the traffic of every process serving an endpoint. One row per process
# (`source`), series and second, holding the bucket's whole content: count, sum, minimum,
# maximum and the 1 % histogram bins as {bin: count}. Rows older than the retention are pruned.
serving_metric_buckets = Table(
    "serving_metric_buckets",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("dimensions", String(1000), primary_key=True),
    Column("second", BigInteger, primary_key=True, autoincrement=False),
    Column("source", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("total", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("histogram", JSON, nullable=False),
    Index("ix_serving_metric_buckets_second", "second"),
)
