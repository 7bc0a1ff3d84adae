"""Batch ingestion (the Glue jobs stand-in): sources, schema contracts, jobs, runs,
bookmarks and quarantine. Import from the submodules; this package file stays light so
that `podium.prep` and `podium.catalog` can use the sources without a cycle."""
