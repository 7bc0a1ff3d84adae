"""The jobs and catalog HTTP routes against a real store and lake."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from podium.api import create_app


def test_jobs_and_catalog_routes(settings, store, src_dir: Path, write_csv) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1), (2, "b", 2)])
    client = TestClient(create_app(settings, store))
    definition = {"name": "orders", "source": {"path": str(src_dir)}, "output": {"dataset": "orders"}, "bookmark": "enable"}
    assert client.post("/jobs", json=definition).status_code == 201
    assert client.post("/jobs", json=definition).json()["code"] == "Conflict"
    bad = client.post("/jobs", json={**definition, "name": "9bad"})
    assert bad.status_code == 400 and "name" in bad.json()["message"]
    run = client.post("/jobs/orders/runs", json={}).json()
    assert run["status"] == "SUCCEEDED" and run["rows_written"] == 2
    assert client.post("/jobs/orders/runs").json()["rows_read"] == 0
    assert [r["number"] for r in client.get("/jobs/orders/runs").json()] == [2, 1]
    state = client.post("/jobs/orders/bookmark", json={"reset": True}).json()
    assert state["head_run"] is None
    assert client.get("/catalog/tables").json()[0]["name"] == "orders"
    assert client.get("/catalog/tables/orders/versions").json()[0]["version"] == 1
    assert client.get("/catalog/tables/nope").status_code == 404
    crawled = client.post("/catalog/crawl", json={"location": str(src_dir), "name": "raw_orders"}).json()
    assert crawled["created"] and crawled["table"]["format"] == "csv"
