"""The data catalog (the Glue Data Catalog stand-in): tables with a location, format,
partition keys and a versioned schema, and a crawler that infers them from files."""

from podium.catalog.crawler import CrawlResult, crawl
from podium.catalog.schema import Column, SchemaChange, diff
from podium.catalog.tables import (
    CatalogTable,
    SchemaVersion,
    drop_table,
    get_table,
    list_tables,
    put_table,
    scan_sql,
    versions,
)

__all__ = [
    "CatalogTable",
    "Column",
    "CrawlResult",
    "SchemaChange",
    "SchemaVersion",
    "crawl",
    "diff",
    "drop_table",
    "get_table",
    "list_tables",
    "put_table",
    "scan_sql",
    "versions",
]
