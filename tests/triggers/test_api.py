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


def test_schedule_group_routes(settings, store) -> None:
    client = TestClient(create_app(settings, store))
    made = client.post("/schedule-groups", json={"name": "batch", "description": "nightly jobs"})
    assert made.status_code == 201, made.text
    assert client.post("/schedule-groups", json={"name": "batch"}).status_code == 409
    created = client.post("/schedules", json={
        "name": "ingest", "expression": "at(2030-01-01T00:00:00)", "target": "t", "group": "batch",
        "action_after_completion": "DELETE", "dead_letter": "stream:failures",
    })
    assert created.status_code == 201, created.text
    assert created.json()["arn"].endswith(":schedule/batch/ingest")
    assert client.post("/schedules", json={
        "name": "x", "expression": "rate(1 day)", "target": "t", "group": "missing",
    }).status_code == 404
    assert client.get("/schedules/ingest").status_code == 404  # not in the default group
    got = client.get("/schedules/ingest", params={"group": "batch"}).json()
    assert (got["action_after_completion"], got["dead_letter"]) == ("DELETE", "stream:failures")
    assert client.post("/schedules/ingest/pause", params={"group": "batch"}).json()["state"] == "DISABLED"
    assert client.get("/schedules/ingest/next", params={"group": "batch", "after": "2029-12-31T00:00:00Z"}).json() == [
        "2030-01-01T00:00:00+00:00"
    ]
    patched = client.patch("/schedules/ingest", params={"group": "batch"},
                           json={"description": "moved", "max_retry_attempts": 5})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["description"], patched.json()["max_retry_attempts"]) == ("moved", 5)
    assert patched.json()["max_event_age_seconds"] == 86_400
    assert client.patch("/schedules/ingest", params={"group": "batch"},
                        json={"expression": "rate(5 hour)"}).status_code == 400
    assert [s["name"] for s in client.get("/schedules", params={"group": "batch"}).json()] == ["ingest"]
    assert client.get("/schedule-groups/batch").json()["schedules"] == 1
    assert [g["name"] for g in client.get("/schedule-groups").json()] == ["default", "batch"]
    assert client.delete("/schedule-groups/default").status_code == 400
    deleted = client.delete("/schedule-groups/batch")
    assert deleted.json() == {"deleted": "batch", "schedules_deleted": 1}
    assert client.get("/schedules").json() == []
    assert client.get("/schedule-groups/batch").status_code == 404


def test_rule_state_replays_dead_letters_and_retention_routes(settings, store) -> None:
    client = TestClient(create_app(settings, store))
    client.put("/events/rules/files", json={
        "pattern": {"source": ["podium.lake"]},
        "targets": [{"id": "t", "target": "nowhere", "dead_letter": "stream:failures"}],
    })
    assert client.post("/events/rules/files/disable").json()["state"] == "DISABLED"
    assert client.post("/events/rules/files/enable").json()["state"] == "ENABLED"
    assert client.post("/events/rules/missing/enable").status_code == 404
    client.post("/events", json={"entries": [
        {"source": "podium.lake", "detail-type": "Object Created", "detail": {}, "time": "2026-01-04T10:00:00Z"},
        {"source": "podium.other", "detail-type": "Object Created", "detail": {}, "time": "2026-01-05T10:00:00Z"},
    ]})
    assert len(client.get("/events", params={"source": "podium.lake"}).json()) == 1
    client.post("/events/replays", json={
        "name": "r1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-06T00:00:00Z", "rules": ["files"],
    })
    (replay,) = client.get("/events/replays").json()
    assert (replay["name"], replay["events"], replay["deliveries"]) == ("r1", 2, 1)
    from podium.triggers.bus import EventBus

    EventBus(store).dispatch()  # "nowhere" is not registered: dead-lettered at once
    # Two dead rule deliveries, and their two failure reports queued to the dead-letter stream.
    listed = client.get("/events/deliveries", params={"origin": "files"}).json()
    assert sorted((d["origin"], d["status"], d["target"]) for d in listed) == [
        ("dead-letter", "pending", "stream:failures")] * 2 + [("rule", "dead", "nowhere")] * 2
    assert client.get("/events/deliveries", params={"status": "lost"}).status_code == 400
    letters = client.get("/events/dead-letters", params={"origin": "files"}).json()
    assert len(letters) == 2 and {d["reason"] for d in letters} == {"target-not-found"}
    purged = client.request("DELETE", "/events", params={"before": "2026-01-05T00:00:00Z"})
    assert purged.json() == {"purged": 1}
    assert [e["source"] for e in client.get("/events").json()] == ["podium.other"]


def test_put_events_partial_failure_and_delivery_purge(settings, store) -> None:
    client = TestClient(create_app(settings, store))
    put = client.post("/events", json={"entries": [
        {"source": "podium.lake", "detail-type": "Object Created", "detail": {"key": "a.csv"}},
        {"source": "podium.lake", "detail-type": "Object Created", "detail": "{oops"},
        {"detail-type": "Object Created", "detail": {}},
        {"source": "podium.lake", "detail-type": "Object Created", "detail": {"key": "b.csv"}},
    ]})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["failed_entry_count"] == 2
    assert [e.get("error_code") for e in body["entries"]] == [None, "MalformedDetail", "InvalidArgument", None]
    assert body["event_ids"] == [body["entries"][0]["event_id"], body["entries"][3]["event_id"]]
    assert sorted(e["id"] for e in client.get("/events").json()) == sorted(body["event_ids"])
    too_many = client.post("/events", json={"entries": [{"source": "s", "detail-type": "d"}] * 11})
    assert too_many.status_code == 400
    purged = client.request("DELETE", "/events/deliveries", params={"older_than_seconds": 3600})
    assert purged.status_code == 200 and purged.json() == {"purged": 0}
    short = client.request("DELETE", "/events/deliveries", params={"older_than_seconds": 5})
    assert short.status_code == 400 and "lease" in short.json()["message"]
