"""The HTTP API skeleton: health, version, OpenAPI, error bodies, bearer token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient

from podium import __version__
from podium.api import create_app
from podium.config import Settings
from podium.errors import NotFoundError
from podium.store import Store


def test_health_version_openapi(settings: Settings, store: Store) -> None:
    client = TestClient(create_app(settings, store))
    assert client.get("/health").json() == {"status": "ok", "metadata": "sqlite"}
    assert client.get("/version").json() == {"version": __version__}
    schema = client.get("/openapi.json").json()
    assert "/health" in schema["paths"] and "/version" in schema["paths"]


def test_podium_errors_become_json_with_status(settings: Settings, store: Store) -> None:
    app = create_app(settings, store)
    router = APIRouter()

    @router.get("/things/{name}")
    def missing(name: str) -> None:
        raise NotFoundError(f"thing '{name}' does not exist")

    app.include_router(router)
    response = TestClient(app).get("/things/x")
    assert response.status_code == 404
    assert response.json() == {"code": "NotFound", "message": "thing 'x' does not exist"}


def test_token_required_everywhere_but_health(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.for_home(tmp_path, api_token="s3cret")
    client = TestClient(create_app(settings))
    assert client.get("/health").status_code == 200
    denied = client.get("/version")
    assert denied.status_code == 401
    assert denied.json()["code"] == "Unauthorized"
    assert client.get("/version", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/version", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/openapi.json").status_code == 401
