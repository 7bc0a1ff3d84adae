"""Batch ingestion metadata: job definitions, runs, bookmarks, inputs, outputs, quarantine."""

from sqlalchemy import (
    JSON,
    BigInteger,
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

# The current definition of each batch job (the full definition is the JSON document).
ingest_jobs = Table(
    "ingest_jobs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("bookmark_option", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A job's bookmark: the run whose processed inputs (with those of its ancestors) count as
# done. `version` is bumped on every change so that two runs cannot both advance it.
ingest_bookmarks = Table(
    "ingest_bookmarks",
    metadata,
    Column("job_name", String(64), primary_key=True),
    Column("head_run_id", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per run. `bookmark_parent` is the bookmark head the run started from;
# `bookmark_advanced` says whether the run moved the head to itself on commit.
ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("job_name", String(64), nullable=False),
    Column("job_version", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("bookmark_option", String(16), nullable=False),
    Column("bookmark_parent", String(64), nullable=True),
    Column("bookmark_advanced", Boolean, nullable=False),
    Column("key_high", JSON, nullable=True),
    Column("files_read", Integer, nullable=False),
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_written", BigInteger, nullable=False),
    Column("rows_quarantined", BigInteger, nullable=False),
    Column("rows_filtered", BigInteger, nullable=False),
    Column("bytes_read", BigInteger, nullable=False),
    Column("bytes_written", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("details", JSON, nullable=True),
    Index("ix_ingest_runs_job_name", "job_name"),
)

# The input files each run processed (the bookmark's unit for file sources).
ingest_run_inputs = Table(
    "ingest_run_inputs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime", Float, nullable=False),
)

# The committed manifest: every output file a successful run published.
ingest_output_files = Table(
    "ingest_output_files",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("dataset", String(128), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Index("ix_ingest_output_files_dataset", "dataset"),
)

# Quarantined rows per run and reason kind (the rows themselves are Parquet in the lake).
ingest_quarantine = Table(
    "ingest_quarantine",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("path", Text, nullable=True),
)
