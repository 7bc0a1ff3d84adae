"""The /schedules and /events routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from podium.api import create_app


def test_schedule_routes(settings, store) -> None:
    client = TestClient(create_app(settings, store))
    created = client.post("/schedules", json={
        "name": "nightly", "expression": "cron(0 2 * * ? *)", "target": "retrain",
        "timezone": "Europe/Paris",
    })
    assert created.status_code == 201, created.text
    assert created.json()["timezone"] == "Europe/Paris"
    assert [s["name"] for s in client.get("/schedules").json()] == ["nightly"]
    upcoming = client.get("/schedules/nightly/next", params={"count": 2, "after": "2026-01-05T00:00:00Z"})
    assert upcoming.json() == ["2026-01-05T01:00:00+00:00", "2026-01-06T01:00:00+00:00"]
    assert client.post("/schedules/nightly/pause").json()["state"] == "DISABLED"
    assert client.get("/schedules/nightly/fires").json() == []
    bad = client.post("/schedules", json={"name": "x", "expression": "rate(5 hour)", "target": "t"})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidScheduleExpression"
    assert client.delete("/schedules/nightly").status_code == 204
    assert client.get("/schedules/nightly").status_code == 404


def test_event_routes(settings, store) -> None:
    client = TestClient(create_app(settings, store))
    rule = client.put("/events/rules/new-file", json={
        "pattern": {"source": ["podium.lake"]}, "targets": [{"id": "t", "target": "ingest"}],
    })
    assert rule.status_code == 200, rule.text
    bad = client.put("/events/rules/bad", json={"pattern": {"source": "podium.lake"}})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidEventPattern"
    put = client.post("/events", json={"entries": [
        {"source": "podium.lake", "detail-type": "Object Created", "detail": {"key": "a.csv"},
         "time": "2026-01-05T10:00:00Z"},
    ]})
    assert put.status_code == 200, put.text
    (event_id,) = put.json()["event_ids"]
    archived = client.get("/events", params={"start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z"})
    assert [e["id"] for e in archived.json()] == [event_id]
    tested = client.post("/events/test-pattern", json={
        "pattern": {"detail": {"key": [{"suffix": ".csv"}]}}, "event": {"detail": {"key": "a.csv"}},
    })
    assert tested.json() == {"matches": True}
    replay = client.post("/events/replays", json={
        "name": "r1", "start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z",
    })
    assert replay.status_code == 201 and replay.json()["deliveries"] == 1
    assert client.post("/events/replays", json={
        "name": "r1", "start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z",
    }).status_code == 409


def test_watch_routes(settings, store, tmp_path) -> None:
    client = TestClient(create_app(settings, store))
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "old.csv").write_text("a\n")
    put = client.put("/events/watches/landing", json={"location": str(landing)})
    assert put.status_code == 200, put.text
    assert client.get("/events/watches").json() == [{"name": "landing", "location": str(landing)}]
    assert client.delete("/events/watches/landing").status_code == 204
    assert client.delete("/events/watches/landing").status_code == 404
    assert client.put("/events/watches/x", json={"location": " "}).status_code == 400
