"""Endpoints over HTTP: config, create, invoke with a pinned variant, describe, metrics, errors."""

from __future__ import annotations

import tarfile
import time
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
        assert pinned.headers["X-Podium-Endpoint-Config"] == "c1"
        assert pinned.json()["predictions"][0] == pytest.approx(2 / 3)
        assert client.get("/endpoints/ep").json()["TrafficShares"] == {"c1": 1.0}
        assert 'variant_name="B"' in client.get("/metrics").text
        summary = client.get("/endpoints/ep/metrics", params={"window": 600}).json()
        by_variant = {row["VariantName"]: row for row in summary["Variants"]}
        assert by_variant["B"]["Invocations"] == 1 and by_variant["A"]["Invocations"] == 0
        assert by_variant["B"]["TrafficShare"] == 0.5 and by_variant["B"]["Invocation5XXRate"] == 0
        assert by_variant["B"]["LiveWorkers"] == 1
        alarm = client.put("/alarms/b-errors", json={
            "MetricName": "Invocation5XXErrors", "DenominatorMetricName": "Invocations", "Threshold": 0.5,
            "Dimensions": [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "B"}]})
        assert alarm.status_code == 200, alarm.text
        [listed] = client.get("/alarms").json()
        assert listed["AlarmName"] == "b-errors" and listed["StateValue"] == "OK"
        bad = client.put("/alarms/x", json={"MetricName": "Invocations", "Threshold": 1, "Statistic": "Median"})
        assert bad.status_code == 400 and "statistic" in bad.json()["message"]
        assert client.delete("/alarms/b-errors").status_code == 204
        assert client.delete("/alarms/b-errors").status_code == 404
        missing = client.post("/endpoints/nope/invocations", content=b"[[1]]")
        assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
        dup = client.post("/endpoint-configs", json={"EndpointConfigName": "c1", "ProductionVariants": [
            {"VariantName": "A", "ModelDataUrl": str(artifact)}]})
        assert dup.status_code == 409
        assert client.delete("/endpoints/ep").status_code == 204
        assert client.get("/endpoints/ep").status_code == 404


def test_fast_invocations_checks_the_token_and_passes_everything_else_on(tmp_path: Path) -> None:
    from podium.api.serving import FastInvocations
    from podium.store import open_store

    settings = Settings.for_home(tmp_path / "home").model_copy(update={"api_token": "s3cret"})
    app = FastInvocations(create_app(settings, open_store(settings)))
    with TestClient(app) as client:
        unauthorized = client.post("/endpoints/ep/invocations", content=b"[[1]]")
        assert unauthorized.status_code == 401  # answered by the app's token check
        token = {"Authorization": "Bearer s3cret"}
        missing = client.post("/endpoints/ep/invocations", content=b"[[1]]", headers=token)
        assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
        assert "endpoint 'ep'" in missing.json()["message"]
        assert client.get("/endpoints", headers=token).json() == []  # other routes reach the app


def test_invocations_over_the_size_limit_are_answered_413(tmp_path: Path) -> None:
    """Through FastInvocations and through the app's own route: the body is not kept and the
    reply names the limit; a body at the limit reaches the router (404: no such endpoint)."""
    from podium.api.serving import FastInvocations
    from podium.store import open_store

    settings = Settings.for_home(tmp_path / "home").model_copy(update={"max_invocation_bytes": 1000})
    app = create_app(settings, open_store(settings))
    for asgi in (FastInvocations(app), app):
        with TestClient(asgi) as client:
            over = client.post("/endpoints/ep/invocations", content=b"x" * 1001)
            assert over.status_code == 413 and over.json()["code"] == "PayloadTooLarge"
            assert "limit of 1000 bytes" in over.json()["message"]
            at_limit = client.post("/endpoints/ep/invocations", content=b"x" * 1000)
            assert at_limit.status_code == 404 and at_limit.json()["code"] == "NotFound"


def test_describe_shows_why_this_process_lags_the_store(settings: Settings, store: Store, tmp_path: Path) -> None:
    """Another process deploys; this server cannot start the new fleets, keeps serving the old
    ones, and its describe output says so (FollowErrors) until it can."""
    from podium.serving import EndpointService, Router

    artifact = pack(tmp_path / "m")
    fast = settings.model_copy(update={"serving_sync_seconds": 0.1})
    app = create_app(fast, store)
    with TestClient(app) as client:
        for name in ("c1", "c2"):
            assert client.post("/endpoint-configs", json={"EndpointConfigName": name, "ProductionVariants": [
                {"VariantName": "A", "ModelDataUrl": str(artifact)}]}).status_code == 201
        assert client.post("/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"}).status_code == 201
        served = app.state.podium.services["endpoints"]

        def broken(endpoint: str, config: object, fraction: float = 1.0) -> None:
            raise RuntimeError("no space left on device")

        served._provision = broken
        other = EndpointService(fast, store, Router(), drain_timeout=5)
        try:
            other.restore()
            other.update_endpoint("ep", "c2", wait=True)
            deadline = time.monotonic() + 15
            while "FollowErrors" not in (described := client.get("/endpoints/ep").json()):
                assert time.monotonic() < deadline, described
                time.sleep(0.1)
            [error] = described["FollowErrors"]
            assert error["Process"] == served.owner_id and "no space left on device" in error["Error"]
            assert described["EndpointConfigName"] == "c2" and described["TrafficShares"] == {"c1": 1.0}
        finally:
            other.shutdown()
            del served._provision
