"""Group definitions and lineage on both metadata stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from podium.config import Settings
from podium.errors import ConflictError
from podium.features import FeatureStore
from podium.store import Store

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_groups_versions_and_lineage_on_any_store(settings: Settings, any_store: Store) -> None:
    fs = FeatureStore(settings, any_store)
    try:
        fs.create_group("g", record_identifiers=["id", "shop"], event_time="ts",
                        features={"id": "int64", "shop": "string", "ts": "timestamp", "v": "float64"},
                        ttl={"Unit": "Hours", "Value": 1}, tags={"owner": "ana"})
        with pytest.raises(ConflictError):
            fs.create_group("g", record_identifiers="id", event_time="ts",
                            features={"id": "int64", "ts": "timestamp"})
        fs.add_features("g", {"w": "bool"})
        assert [v.version for v in fs.registry.versions("g")] == [1, 2]
        assert fs.describe_group("g").tags == {"owner": "ana"}
        fs.ingest("g", [{"id": 1, "shop": "a", "ts": T0, "v": 1.0, "w": True}])
        (ingestion,) = fs.lineage.ingestions("g")
        assert ingestion.status == "completed" and ingestion.rows == 1
        assert ingestion.write_time.tzinfo is not None
        built = fs.training_set(pd.DataFrame({"id": [1], "shop": ["a"], "ts": [T0]}), ["g"], timestamp="ts")
        assert built.table["w"].to_pylist() == [True]
        assert fs.lineage.training_sets()[-1]["rows"] == 1
    finally:
        fs.close()
