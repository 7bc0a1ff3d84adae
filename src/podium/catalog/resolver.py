"""Joins in recipes resolved against the catalog: `with: {table: name}` reads the catalog
table, `with: {path: ...}` reads files."""

from __future__ import annotations

import duckdb

from podium.prep.executor import FileResolver
from podium.prep.steps import TableRef
from podium.store import Store


class CatalogResolver:
    """A `podium.prep.executor.TableResolver` backed by the metadata store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def table_sql(self, ref: TableRef, con: duckdb.DuckDBPyConnection) -> str:
        if ref.table is None:
            return FileResolver().table_sql(ref, con)
        from podium.catalog.tables import scan_sql

        return scan_sql(self.store, ref.table, con)
