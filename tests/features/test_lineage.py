"""Lineage hooks: every write and every training set is recorded for the models area."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pandas as pd
import pytest

from podium.errors import ValidationError
from podium.features import FeatureStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_writes_and_training_sets_are_recorded(fs: FeatureStore, clock) -> None:
    fs.create_group("g", record_identifiers="id", event_time="ts",
                    features={"id": "int64", "ts": "timestamp", "v": "float64"})
    fs.ingest("g", [{"id": 1, "ts": T0, "v": 1.0}, {"id": 2, "ts": T0, "v": 2.0}], source="catalog:sales")
    fs.put_record("g", {"id": 1, "ts": T0, "v": 3.0})
    fs.delete_record("g", 2, T0)
    with pytest.raises(ValidationError):
        fs.ingest("g", [{"id": "x", "ts": T0}])  # rejected before anything is written
    fs.materialize("g")
    recorded = fs.lineage.ingestions("g")
    assert [(r.kind, r.source, r.status, r.rows) for r in recorded] == [
        ("ingest", "catalog:sales", "completed", 2),
        ("put_record", "put_record", "completed", 1),
        ("delete", "delete:soft", "completed", 1),
        ("materialize", "offline:None..None", "completed", 2),
    ]
    assert recorded[0].write_time == clock.now
    built = fs.training_set(pd.DataFrame({"id": [1, 2], "ts": [T0, T0]}), ["g:v"], timestamp="ts")
    assert built.table["v"].to_pylist() == [3.0, None]
    sets = fs.lineage.training_sets()
    assert sets[-1]["id"] == built.lineage_id
    assert sets[-1]["groups"] == [{"name": "g", "version": 1, "features": ["v"]}]
    assert sets[-1]["rows"] == 2 and sets[-1]["entity_source"] == "DataFrame"


def test_a_failed_write_is_recorded_as_failed(fs: FeatureStore) -> None:
    fs.create_group("g", record_identifiers="id", event_time="ts",
                    features={"id": "int64", "ts": "timestamp"})

    fs.online.close()  # the real SQLite store, closed: the online half of the write fails
    with pytest.raises(sqlite3.ProgrammingError):
        fs.put_record("g", {"id": 1, "ts": T0})
    (failed,) = fs.lineage.ingestions("g")
    assert failed.status == "failed"
