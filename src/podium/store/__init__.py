"""The metadata store: runs, history, registry, catalog — SQLite by default, PostgreSQL to scale."""

from podium.store.database import Store, create_store_engine, open_store

__all__ = ["Store", "create_store_engine", "open_store"]
