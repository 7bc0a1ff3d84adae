"""The HTTP route for online reads and writes: /features/{group}/records."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from podium.api import create_app
from podium.config import Settings
from podium.features import FeatureStore
from podium.store import Store


def test_read_and_write_records(settings: Settings, store: Store) -> None:
    fs = FeatureStore(settings, store)
    fs.create_group("pairs", record_identifiers=["a", "b"], event_time="ts",
                    features={"a": "int64", "b": "string", "ts": "timestamp", "v": "float64"})
    fs.put_record("pairs", {"a": 1, "b": "x", "ts": datetime(2024, 1, 1, tzinfo=UTC), "v": 1.0})
    fs.close()
    client = TestClient(create_app(settings, store))
    response = client.get("/features/pairs/records", params={"key": ['[1, "x"]', '[2, "y"]']})
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    assert records[0] == {"a": 1, "b": "x", "ts": "2024-01-01T00:00:00+00:00", "v": 1.0}
    assert records[1] is None
    put = client.put("/features/pairs/records", json={"a": 2, "b": "y", "ts": "2024-01-02T00:00:00Z", "v": 2.0})
    assert put.status_code == 200 and put.json()["stored_online"] is True
    again = client.get("/features/pairs/records", params={"key": '[2, "y"]', "feature": "v"})
    assert again.json()["records"] == [{"a": 2, "b": "y", "ts": "2024-01-02T00:00:00+00:00", "v": 2.0}]


def test_errors_have_codes(settings: Settings, store: Store) -> None:
    client = TestClient(create_app(settings, store))
    assert client.get("/features/nope/records", params={"key": "1"}).status_code == 404
    fs = FeatureStore(settings, store)
    fs.create_group("g", record_identifiers="id", event_time="ts",
                    features={"id": "int64", "ts": "timestamp"})
    fs.close()
    bad = client.get("/features/g/records", params={"key": "abc"})
    assert bad.status_code == 400 and bad.json()["code"] == "ValidationError"
    wrong = client.put("/features/g/records", json={"id": "x", "ts": "2024-01-01"})
    assert wrong.status_code == 400 and "'id' row 0" in wrong.json()["message"]


def test_feature_store_is_exported_lazily_from_the_package() -> None:
    import subprocess
    import sys

    code = ("import sys, podium; assert 'podium.features' not in sys.modules; "
            "from podium import FeatureStore; import podium.features as f; assert FeatureStore is f.FeatureStore")
    subprocess.run([sys.executable, "-c", code], check=True)
