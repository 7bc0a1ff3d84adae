"""Reading what batch jobs wrote: only files named in committed runs (the manifest), so
readers never see a run in progress, a failed run or files left by a crash."""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import select

from podium.prep.engine import connect, ensure_filesystem
from podium.prep.readers import ReadOptions, read_sql
from podium.store import Store
from podium.store.tables.ingest import ingest_output_files, ingest_runs


def committed_files(store: Store, dataset: str) -> list[str]:
    """Every output file of the dataset's successful runs, in commit order."""
    with store.connect() as conn:
        rows = conn.execute(
            select(ingest_output_files.c.path)
            .join(ingest_runs, ingest_runs.c.id == ingest_output_files.c.run_id)
            .where(ingest_output_files.c.dataset == dataset, ingest_runs.c.status == "SUCCEEDED")
            .order_by(ingest_runs.c.finished_at, ingest_output_files.c.path)
        ).scalars()
        return list(rows)


def run_files(store: Store, run_id: str) -> list[str]:
    """The output files one run committed (none for a run that failed or wrote nothing)."""
    with store.connect() as conn:
        return list(conn.execute(
            select(ingest_output_files.c.path)
            .where(ingest_output_files.c.run_id == run_id)
            .order_by(ingest_output_files.c.path)
        ).scalars())


def read_dataset(store: Store, dataset: str, *, hive: bool = True) -> pa.Table:
    """All committed rows of a dataset (partition columns come back from `key=value` paths)."""
    files = committed_files(store, dataset)
    if not files:
        return pa.table({})
    con = connect()
    try:
        ensure_filesystem(con, files[0])
        return con.sql(f"SELECT * FROM {read_sql(files, ReadOptions(format='parquet'), hive=hive)}").to_arrow_table()
    finally:
        con.close()
