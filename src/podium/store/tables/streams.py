"""Streams metadata: consumer shard leases (the KCL lease table) and delivery stream definitions."""

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, String, Table

from podium.store.tables.meta import metadata

# One row per (consumer application, stream, shard), as KCL keeps in DynamoDB. `lease_counter`
# fences: every take/renew bumps it and writes are conditional on the value the owner last
# saw, so a worker whose lease was stolen cannot checkpoint. `checkpoint` is a sequence
# number or TRIM_HORIZON / LATEST / SHARD_END. Times are epoch milliseconds so that lease
# expiry compares as numbers on SQLite and PostgreSQL alike.
streams_leases = Table(
    "streams_leases",
    metadata,
    Column("application", String(128), primary_key=True),
    Column("stream", String(128), primary_key=True),
    Column("shard_id", String(64), primary_key=True),
    Column("owner", String(128), nullable=True),
    Column("lease_counter", BigInteger, nullable=False),
    Column("checkpoint", String(64), nullable=False),
    Column("parent_shard_id", String(64), nullable=True),
    Column("adjacent_parent_shard_id", String(64), nullable=True),
    Column("expires_at_ms", BigInteger, nullable=False),
    Column("owner_switches", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Delivery streams (the Firehose stand-in): the definition is the JSON document; `version`
# goes up on every change and is part of the delivered object names.
streams_delivery = Table(
    "streams_delivery",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
