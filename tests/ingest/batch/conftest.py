"""Helpers for batch job tests: write source files and define jobs quickly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podium.ingest.batch.jobs import create_job, parse_job


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    path = tmp_path / "incoming"
    path.mkdir()
    return path


def _write_csv(folder: Path, name: str, rows: list[tuple[Any, ...]], header: str = "id,city,amount") -> Path:
    path = folder / name
    path.write_text(header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def _make_job(store: Any, src: Path, **overrides: Any) -> str:
    definition: dict[str, Any] = {
        "name": "orders",
        "source": {"path": str(src)},
        "output": {"dataset": "orders", "partition_by": ["city"]},
        "bookmark": "enable",
    }
    definition.update(overrides)
    job = parse_job(definition)
    create_job(store, job)
    return job.name


@pytest.fixture(name="write_csv")
def write_csv_fixture():  # type: ignore[no-untyped-def]
    """write_csv(folder, name, rows, header="id,city,amount") -> Path"""
    return _write_csv


@pytest.fixture(name="make_job")
def make_job_fixture():  # type: ignore[no-untyped-def]
    """make_job(store, src, **definition overrides) -> job name (bookmarks enabled)"""
    return _make_job
