"""Delivery stream definitions (the Firehose stand-in's configuration), validated once.

Buffering hints follow Firehose: size 1-128 MiB (default 5) and interval 0-900 s (default
300), whichever is reached first. The ranges are `DeliveryLimits` so that tests and small
installations can use tiny buffers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.errors import ValidationError
from podium.ingest.delivery.prefix import (
    DEFAULT_ERROR_PREFIX,
    DEFAULT_PREFIX,
    Prefix,
    compile_prefix,
)
from podium.ingest.delivery.query import FieldQuery, compile_query

FORMATS = ("raw", "parquet")
COMPRESSIONS = ("snappy", "gzip", "zstd", "none")


@dataclass(frozen=True)
class DeliveryLimits:
    min_buffer_mb: float = 1.0
    max_buffer_mb: float = 128.0
    min_interval_s: float = 0.0
    max_interval_s: float = 900.0
    max_active_partitions: int = 500


def _schema_fields(schema: Any) -> list[tuple[str, str]]:
    """[(name, arrow type alias)] from a pyarrow schema, a mapping or a list of pairs/dicts."""
    if schema is None:
        return []
    if hasattr(schema, "names") and hasattr(schema, "types"):
        return [(n, str(t)) for n, t in zip(schema.names, schema.types, strict=True)]
    if isinstance(schema, Mapping):
        return [(str(k), str(v)) for k, v in schema.items()]
    out = []
    for item in schema:
        if isinstance(item, Mapping):
            out.append((str(item["name"]), str(item["type"])))
        else:
            name, kind = item
            out.append((str(name), str(kind)))
    return out


@dataclass(frozen=True)
class DeliveryDefinition:
    """What a delivery stream reads, how it buffers and transforms, and where it writes."""

    name: str
    destination: str  # path under the lake, e.g. "raw/orders"
    source_stream: str | None = None  # None: direct puts into a backing stream
    buffer_size_mb: float = 5.0
    buffer_interval_s: float = 300.0
    transform: str | None = None  # "module:callable", called in-process with bytes
    transform_function: str | None = None  # a podium.functions name, Lambda's contract
    transform_retries: int = 3
    format: str = "raw"
    schema: tuple[tuple[str, str], ...] = ()
    compression: str = "snappy"
    partition_keys: Mapping[str, str] = field(default_factory=dict)  # name -> ".field.query"
    prefix: str | None = None
    error_prefix: str = DEFAULT_ERROR_PREFIX
    retry_duration_s: float = 300.0
    direct_put_shards: int = 1
    catalog_table: str | None = None  # parquet only: register the destination in the catalog
    version: int = 1

    @property
    def backing_stream(self) -> str:
        """The stream records are read from (the hidden one for direct puts)."""
        return self.source_stream or f"delivery.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "destination": self.destination,
            "source_stream": self.source_stream,
            "buffer_size_mb": self.buffer_size_mb,
            "buffer_interval_s": self.buffer_interval_s,
            "transform": self.transform,
            "transform_function": self.transform_function,
            "transform_retries": self.transform_retries,
            "format": self.format,
            "schema": [list(f) for f in self.schema],
            "compression": self.compression,
            "partition_keys": dict(self.partition_keys),
            "prefix": self.prefix,
            "error_prefix": self.error_prefix,
            "retry_duration_s": self.retry_duration_s,
            "direct_put_shards": self.direct_put_shards,
            "catalog_table": self.catalog_table,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any], limits: DeliveryLimits | None = None) -> DeliveryDefinition:
        known = set(cls.__dataclass_fields__)
        unknown = set(body) - known
        if unknown:
            raise ValidationError(
                f"delivery stream definition has unknown field(s) {', '.join(sorted(unknown))}",
                code="InvalidArgument",
            )
        values = dict(body)
        if "schema" in values:
            values["schema"] = tuple(_schema_fields(values["schema"]))
        definition = cls(**values)
        definition.compile(limits)
        return definition

    def compile(self, limits: DeliveryLimits | None = None) -> CompiledDelivery:
        """Check every field and parse queries and prefixes once."""
        limits = limits or DeliveryLimits()

        def bad(path: str, message: str) -> ValidationError:
            return ValidationError(f"delivery stream '{self.name}': {path} {message}", code="InvalidArgument")

        from podium.ingest.streams.resharding import check_stream_name

        check_stream_name(self.name)
        if not self.destination or self.destination.startswith("/") or ".." in self.destination.split("/"):
            raise bad("destination", "must be a relative path inside the lake, like raw/orders")
        if not limits.min_buffer_mb <= self.buffer_size_mb <= limits.max_buffer_mb:
            raise bad("buffer_size_mb", f"must be {limits.min_buffer_mb} to {limits.max_buffer_mb}")
        if not limits.min_interval_s <= self.buffer_interval_s <= limits.max_interval_s:
            raise bad("buffer_interval_s", f"must be {limits.min_interval_s} to {limits.max_interval_s}")
        if self.format not in FORMATS:
            raise bad("format", f"must be one of {', '.join(FORMATS)}")
        if self.compression not in COMPRESSIONS:
            raise bad("compression", f"must be one of {', '.join(COMPRESSIONS)}")
        if self.partition_keys and self.buffer_interval_s == 0:
            raise bad("buffer_interval_s", "cannot be 0 with dynamic partitioning")
        if self.transform and self.transform_function:
            raise bad("transform", "and transform_function exclude each other: choose one")
        if self.catalog_table is not None and self.format != "parquet":
            raise bad("catalog_table", "needs format parquet (the catalog reads Parquet files)")
        if self.transform_retries < 0 or self.retry_duration_s < 0:
            raise bad("retries", "must not be negative")
        arrow_schema = None
        if self.format == "parquet":
            if not self.schema:
                raise bad("schema", "is required for parquet: a list of [name, arrow type]")
            import pyarrow as pa

            fields = []
            for name, kind in self.schema:
                try:
                    fields.append(pa.field(name, pa.type_for_alias(kind)))
                except (ValueError, KeyError):
                    raise bad(f"schema field '{name}'", f"has unknown type '{kind}'") from None
            arrow_schema = pa.schema(fields)
        queries = {}
        for key, text in self.partition_keys.items():
            try:
                queries[key] = compile_query(text)
            except ValidationError as exc:
                raise bad(f"partition_keys.{key}", exc.message) from None
        prefix_text = self.prefix if self.prefix is not None else DEFAULT_PREFIX
        if self.partition_keys and self.prefix is None:
            raise bad("prefix", "is required with dynamic partitioning, e.g. customer=!{partitionKeyFromQuery:customer}/")
        return CompiledDelivery(
            self,
            queries,
            compile_prefix(prefix_text, partition_keys=set(queries)),
            compile_prefix(self.error_prefix, errors=True),
            arrow_schema,
        )


@dataclass(frozen=True)
class CompiledDelivery:
    definition: DeliveryDefinition
    queries: Mapping[str, FieldQuery]
    prefix: Prefix
    error_prefix: Prefix
    arrow_schema: Any  # pyarrow.Schema for parquet, else None
