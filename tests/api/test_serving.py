"""Endpoints over HTTP: config, create, invoke with a pinned variant, describe, metrics, errors."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from podium.api import create_app
from podium.config import Settings
from podium.store import Store

pytestmark = pytest.mark.slow


def pack(folder: Path) -> Path:
    import joblib
    from sklearn.dummy import DummyClassifier

    folder.mkdir(parents=True)
    joblib.dump(DummyClassifier(strategy="prior").fit([[0], [1], [1]], [0, 1, 1]), folder / "model.joblib")
    artifact = folder.parent / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(folder / "model.joblib", arcname="model.joblib")
    return artifact


def test_endpoint_over_http(settings: Settings, store: Store, tmp_path: Path) -> None:
    artifact = pack(tmp_path / "m")
    with TestClient(create_app(settings, store)) as client:
        created = client.post("/endpoint-configs", json={"EndpointConfigName": "c1", "ProductionVariants": [
            {"VariantName": "A", "ModelDataUrl": str(artifact), "InitialVariantWeight": 1},
            {"VariantName": "B", "ModelDataUrl": str(artifact), "InitialVariantWeight": 1},
        ]})
        assert created.status_code == 201, created.text
        assert client.post("/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"}).status_code == 201
        pinned = client.post("/endpoints/ep/invocations", content=b"[[1]]",
                             headers={"content-type": "application/json", "TargetVariant": "B"})
        assert pinned.status_code == 200
        assert pinned.headers["X-Invoked-Production-Variant"] == "B"
        assert pinned.json()["predictions"][0] == pytest.approx(2 / 3)
        assert client.get("/endpoints/ep").json()["TrafficShares"] == {"c1": 1.0}
        assert 'variant_name="B"' in client.get("/metrics").text
        missing = client.post("/endpoints/nope/invocations", content=b"[[1]]")
        assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
        dup = client.post("/endpoint-configs", json={"EndpointConfigName": "c1", "ProductionVariants": [
            {"VariantName": "A", "ModelDataUrl": str(artifact)}]})
        assert dup.status_code == 409
        assert client.delete("/endpoints/ep").status_code == 204
        assert client.get("/endpoints/ep").status_code == 404
