"""Fixtures for the feature store tests: a FeatureStore on a temporary home, and the Feast
reference bundle (skipped with the reason when /work/shared is not there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podium.config import Settings
from podium.features import FeatureStore
from podium.store import Store

FEAST = Path(__file__).parents[2].parent / "shared/reference/feast"


class Clock:
    """A settable clock so TTL-on-read and write times are deterministic."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 6, 1, tzinfo=UTC))


@pytest.fixture
def fs(settings: Settings, store: Store, clock: Clock) -> Iterator[FeatureStore]:
    feature_store = FeatureStore(settings, store, clock=clock, memory_limit="500MB")
    yield feature_store
    feature_store.close()


@pytest.fixture
def feast_small() -> Path:
    if not (FEAST / "small" / "features.parquet").exists():
        pytest.skip(f"the Feast reference bundle is not at {FEAST}")
    return FEAST / "small"


@pytest.fixture
def feast_probe() -> Path:
    if not (FEAST / "probe" / "probe_results.json").exists():
        pytest.skip(f"the Feast reference bundle is not at {FEAST}")
    return FEAST / "probe"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())
