"""`podium delivery` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def podium(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env["PODIUM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "podium.cli.main", *args],
        cwd=home.parent, env=env, capture_output=True, text=True, timeout=120,
    )


def test_create_describe_flush(tmp_path: Path) -> None:
    home = tmp_path / "home"
    from podium.ingest.streams import open_streams

    streams = open_streams("embedded", home=home)  # the layout `podium stream` uses
    streams.create_stream("clicks")
    streams.put_records("clicks", [(b'{"a": 1}', "k"), (b'{"a": 2}', "k")])
    streams.close()
    definition = tmp_path / "d.yaml"
    definition.write_text(
        "name: d\ndestination: tables/d\nsource_stream: clicks\nformat: parquet\n"
        "schema: [[a, int64]]\nbuffer_size_mb: 1\nbuffer_interval_s: 60\n"
    )
    created = podium(home, "delivery", "create", str(definition))
    assert created.returncode == 0, created.stderr
    flushed = podium(home, "--json", "delivery", "flush", "d")
    assert flushed.returncode == 0, flushed.stderr
    assert json.loads(flushed.stdout)["delivered"] == 2
    import pyarrow.parquet as pq

    [obj] = list((home / "lake" / "tables" / "d").rglob("*.parquet"))
    assert pq.read_table(obj).to_pylist() == [{"a": 1}, {"a": 2}]
