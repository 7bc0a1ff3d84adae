"""Delivery streams as a service: definitions in the metadata store, direct puts, workers.

A delivery stream with no source stream gets a hidden backing stream
(`delivery.<name>`): direct puts are written there first, so a record is durable once
`put_record_batch` reports it, exactly like a record put to any stream.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.delivery.definition import DeliveryDefinition, DeliveryLimits
from podium.ingest.delivery.worker import DeliveryWorker
from podium.ingest.streams.client import StreamsClient
from podium.ingest.streams.model import PutRecordsEntry, PutRecordsResult
from podium.store import Store
from podium.store.tables.streams import streams_delivery as T


class DeliveryStreams:
    def __init__(
        self,
        store: Store,
        streams: StreamsClient,
        limits: DeliveryLimits | None = None,
        lake_url: str | None = None,
    ) -> None:
        self.store = store
        self.streams = streams
        self.limits = limits or DeliveryLimits()
        self.lake_url = lake_url
        self._keys = itertools.count()

    def create(self, definition: DeliveryDefinition | dict[str, Any]) -> DeliveryDefinition:
        if not isinstance(definition, DeliveryDefinition):
            definition = DeliveryDefinition.from_json(definition, self.limits)
        definition.compile(self.limits)
        if definition.source_stream is not None:
            self.streams.describe_stream(definition.source_stream)
        now = datetime.now(UTC)
        with self.store.begin() as conn:
            exists = conn.execute(select(T.c.name).where(T.c.name == definition.name)).first()
            if exists:
                raise ConflictError(f"delivery stream '{definition.name}' already exists", code="ResourceInUse")
            conn.execute(
                insert(T).values(
                    name=definition.name,
                    version=definition.version,
                    definition=definition.to_json(),
                    created_at=now,
                    updated_at=now,
                )
            )
            if definition.catalog_table is not None:
                self._register(conn, definition)
        if definition.source_stream is None and definition.backing_stream not in self.streams.list_streams():
            self.streams.create_stream(definition.backing_stream, definition.direct_put_shards)
        return definition

    def _register(self, conn: Any, definition: DeliveryDefinition) -> None:
        """Put the destination in the catalog: every object delivered later is a file of
        that table, found by its location (hive `key=value` directories become partitions)."""
        from podium.catalog import Column, put_table
        from podium.errors import ConfigError

        if self.lake_url is None:
            raise ConfigError("registering a delivery stream in the catalog needs the lake URL")
        columns = [Column(name, duckdb_type(kind)) for name, kind in definition.schema]
        put_table(
            conn,
            definition.catalog_table,  # type: ignore[arg-type]
            location=f"{self.lake_url.rstrip('/')}/{definition.destination}",
            format="parquet",
            columns=columns,
            partition_keys=hive_keys(definition.prefix or ""),
            managed_by=f"delivery:{definition.name}",
        )

    def describe(self, name: str) -> DeliveryDefinition:
        with self.store.connect() as conn:
            row = conn.execute(select(T.c.definition).where(T.c.name == name)).first()
        if row is None:
            raise NotFoundError(
                f"delivery stream '{name}' does not exist; create it with `podium delivery create`",
                code="ResourceNotFound",
            )
        return DeliveryDefinition.from_json(row[0], self.limits)

    def list(self) -> list[str]:
        with self.store.connect() as conn:
            return [r[0] for r in conn.execute(select(T.c.name).order_by(T.c.name))]

    def update(self, name: str, **changes: Any) -> DeliveryDefinition:
        """Change settings; the version goes up, as it does in delivered object names."""
        current = self.describe(name)
        if "partition_keys" in changes and bool(changes["partition_keys"]) != bool(current.partition_keys):
            raise ValidationError(
                "dynamic partitioning can only be chosen when a delivery stream is created",
                code="InvalidArgument",
            )
        body = {**current.to_json(), **changes, "version": current.version + 1}
        new = DeliveryDefinition.from_json(body, self.limits)
        with self.store.begin() as conn:
            conn.execute(
                update(T)
                .where(T.c.name == name)
                .values(version=new.version, definition=new.to_json(), updated_at=datetime.now(UTC))
            )
        return new

    def delete(self, name: str) -> None:
        definition = self.describe(name)
        with self.store.begin() as conn:
            conn.execute(delete(T).where(T.c.name == name))
        if definition.source_stream is None:
            self.streams.delete_stream(definition.backing_stream)

    def put_record_batch(self, name: str, records: Sequence[bytes]) -> PutRecordsResult:
        """Direct PUT: up to 500 records, each reported written or failed."""
        definition = self.describe(name)
        if definition.source_stream is not None:
            raise ValidationError(
                f"delivery stream '{name}' reads stream '{definition.source_stream}'; put records there",
                code="InvalidArgument",
            )
        # Firehose records have no key: spread them over the backing shards.
        entries = [PutRecordsEntry(data, f"p{next(self._keys) % 4096}") for data in records]
        return self.streams.put_records(definition.backing_stream, entries)

    def worker(self, name: str, lake_url: str, **options: Any) -> DeliveryWorker:
        return DeliveryWorker(self.describe(name), self.streams, self.store, lake_url, limits=self.limits, **options)


_DUCKDB_TYPES = {
    "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
    "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
    "float": "FLOAT", "float32": "FLOAT", "double": "DOUBLE", "float64": "DOUBLE",
    "string": "VARCHAR", "large_string": "VARCHAR", "utf8": "VARCHAR", "bool": "BOOLEAN",
    "binary": "BLOB", "date32[day]": "DATE", "date32": "DATE",
}


def duckdb_type(arrow_type: str) -> str:
    """The catalog (DuckDB) type for an Arrow type alias of a delivery schema."""
    if arrow_type.startswith("timestamp"):
        return "TIMESTAMPTZ" if "," in arrow_type else "TIMESTAMP"
    return _DUCKDB_TYPES.get(arrow_type, "VARCHAR")


def hive_keys(prefix: str) -> tuple[str, ...]:
    """Partition columns of a prefix written as `key=!{...}/` directories."""
    return tuple(re.findall(r"(?:^|/)([A-Za-z_][A-Za-z0-9_]*)=!\{[A-Za-z]+:[^}]*\}", prefix))
