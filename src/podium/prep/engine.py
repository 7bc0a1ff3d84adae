"""DuckDB connections set up the way recipes expect them.

Every connection runs in UTC (so naive timestamps mean UTC and date-time features are
computed in the timezone a step names) and can read any fsspec URL: protocols DuckDB
does not handle itself are served by the fsspec filesystem registered on first use.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import fsspec

# Protocols DuckDB reads natively or through its own extensions; everything else goes
# through fsspec.
_NATIVE_PROTOCOLS = {"", "file", "local"}


def connect(
    *, threads: int | None = None, memory_limit: str | None = None, temp_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection configured for recipes."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    # Progress is tracked (so `podium.prep.progress` can read it) but never printed.
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{str(temp_dir).replace(chr(39), chr(39) * 2)}'")
    return con


def protocol_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def ensure_filesystem(con: duckdb.DuckDBPyConnection, url: str) -> None:
    """Make `url` readable by `con`, registering its fsspec filesystem when needed."""
    proto = protocol_of(url)
    if proto in _NATIVE_PROTOCOLS:
        return
    fs = fsspec.filesystem(proto)
    name = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if name not in set(con.list_filesystems()):
        con.register_filesystem(fs)
