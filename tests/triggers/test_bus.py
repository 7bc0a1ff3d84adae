"""The event bus on real SQLite and PostgreSQL: rules, routing, transformers, retries,
dead letters, archive and replay."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store.tables.triggers import triggers_dead_letters, triggers_recorded
from podium.triggers.bus import EventBus, test_event_pattern
from podium.triggers.targets import RecordTarget, TargetRegistry

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

FILE_EVENT = {
    "source": "podium.lake",
    "detail-type": "Object Created",
    "detail": {"bucket": "raw", "key": "sales/2026-01-05.parquet", "size": 1024},
}


def recorded(store, label="rec"):
    with store.connect() as connection:
        rows = connection.execute(
            select(triggers_recorded.c.idempotency_key, triggers_recorded.c.payload)
            .where(triggers_recorded.c.label == label)
            .order_by(triggers_recorded.c.id)
        ).all()
    return [(key, json.loads(payload)) for key, payload in rows]


def bus_for(store) -> EventBus:
    targets = TargetRegistry()
    targets.register("rec", RecordTarget(store, "rec"))
    return EventBus(store, targets)


# Routing, dead letters and replay run on both databases; the rest on SQLite only.
@pytest.fixture
def bus(store) -> EventBus:
    return bus_for(store)


def test_rules_are_validated_and_stored(bus):
    rule = bus.put_rule(
        "new-sales-file",
        {"source": ["podium.lake"], "detail": {"key": [{"prefix": "sales/"}]}},
        [{"id": "t1", "target": "rec", "input_path": "$.detail"}],
        description="start the sales ingest",
    )
    assert rule.to_dict()["targets"][0]["input_path"] == "$.detail"
    assert [r.name for r in bus.list_rules()] == ["new-sales-file"]
    with pytest.raises(ValidationError) as caught:
        bus.put_rule("bad", {"detail": {"size": [{"numeric": [">", "1"]}]}})
    assert caught.value.details["path"] == "detail.size[0].numeric[1]"
    with pytest.raises(ValidationError, match="target ids must be unique"):
        bus.put_rule("dup", {"source": ["a"]}, [{"id": "t", "target": "rec"}, {"id": "t", "target": "rec"}])
    with pytest.raises(ValidationError, match="max_retry_attempts"):
        bus.put_rule("r", {"source": ["a"]}, [{"id": "t", "target": "rec", "max_retry_attempts": 500}])
    bus.delete_rule("new-sales-file")
    with pytest.raises(NotFoundError):
        bus.get_rule("new-sales-file")


def test_matching_events_are_delivered_transformed(any_store):
    bus = bus_for(any_store)
    bus.put_rule(
        "new-sales-file",
        {"source": ["podium.lake"], "detail": {"key": [{"prefix": "sales/"}]}},
        [
            {
                "id": "ingest",
                "target": "rec",
                "input_transformer": {
                    "input_paths_map": {"key": "$.detail.key"},
                    "input_template": '{"path": <key>, "rule": <aws.events.rule-name>}',
                },
            }
        ],
    )
    bus.put_rule("other", {"source": ["podium.engine"]}, [{"id": "x", "target": "rec"}])
    (event_id,) = bus.put_events([FILE_EVENT], now=T0)
    bus.put_events([{**FILE_EVENT, "detail": {"key": "hr/x.csv"}}], now=T0)
    report = bus.dispatch(T0)
    assert report.succeeded == 1
    assert recorded(any_store) == [
        (
            f"rule:new-sales-file:ingest:{event_id}",
            {"path": "sales/2026-01-05.parquet", "rule": "new-sales-file"},
        )
    ]


def test_whole_event_envelope_is_the_default_payload(bus, store):
    bus.put_rule("all-lake", {"source": ["podium.lake"]}, [{"id": "t", "target": "rec"}])
    (event_id,) = bus.put_events([{**FILE_EVENT, "time": "2026-01-05T09:00:00Z"}], now=T0)
    bus.dispatch(T0)
    ((_, event),) = recorded(store)
    assert event["id"] == event_id and event["time"] == "2026-01-05T09:00:00Z"
    assert event["detail-type"] == "Object Created" and event["detail"]["size"] == 1024
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


def test_disabled_and_changed_rules_take_effect_at_once(bus, store):
    bus.put_rule("r", {"source": ["podium.lake"]}, [{"id": "t", "target": "rec"}])
    bus.set_rule_state("r", enabled=False)
    bus.put_events([FILE_EVENT], now=T0)
    bus.set_rule_state("r", enabled=True)
    bus.put_events([FILE_EVENT], now=T0)
    bus.put_rule("r", {"source": ["elsewhere"]}, [{"id": "t", "target": "rec"}])
    bus.put_events([FILE_EVENT], now=T0)
    bus.dispatch(T0)
    assert len(recorded(store)) == 1


def test_put_events_validation(bus):
    with pytest.raises(ValidationError, match=r"entries\[0\].source"):
        bus.put_events([{"detail-type": "x", "detail": {}}])
    with pytest.raises(ValidationError, match="detail: must be a JSON object"):
        bus.put_events([{"source": "a", "detail-type": "x", "detail": [1]}])
    with pytest.raises(ValidationError, match="1-10 entries"):
        bus.put_events([FILE_EVENT] * 11)
    with pytest.raises(ValidationError, match="time"):
        bus.put_events([{**FILE_EVENT, "time": "yesterday"}])
    assert bus.events() == []  # nothing of a rejected batch was stored


def test_failing_target_ends_in_the_dead_letter_table(any_store):
    attempts = []

    def broken(payload):
        attempts.append(payload)
        raise ConnectionError("stream unavailable")

    targets = TargetRegistry()
    targets.register("broken", broken)
    bus = EventBus(any_store, targets)
    bus.put_rule("r", {"source": ["podium.lake"]}, [{"id": "t", "target": "broken", "max_retry_attempts": 3, "input": {"n": 1}}])
    bus.put_events([FILE_EVENT], now=T0)
    for second in range(0, 120, 5):
        bus.dispatch(T0 + timedelta(seconds=second))
    assert len(attempts) == 4  # the first try and three retries
    with any_store.connect() as connection:
        (letter,) = connection.execute(select(triggers_dead_letters)).all()
    assert letter.reason == "retries-exhausted" and letter.origin_name == "r"
    assert json.loads(letter.payload) == {"n": 1} and "stream unavailable" in letter.error
    assert bus.pending_deliveries() == 0
    (delivery,) = bus.deliveries(origin_name="r")
    assert (delivery["status"], delivery["attempts"], delivery["target"]) == ("dead", 4, "broken")
    assert "stream unavailable" in delivery["last_error"] and bus.deliveries(status="pending") == []
    with pytest.raises(ValidationError, match="status"):
        bus.deliveries(status="lost")
    (listed,) = bus.dead_letters(origin_name="r")
    assert (listed["payload"], listed["reason"], listed["attempts"]) == ({"n": 1}, "retries-exhausted", 4)
    assert bus.dead_letters(origin_name="other") == []


def test_archive_and_replay_a_time_range(any_store):
    bus = bus_for(any_store)
    ids = []
    for hour in (8, 9, 10):
        ids += bus.put_events([{**FILE_EVENT, "time": f"2026-01-05T{hour:02d}:30:00Z"}], now=T0)
    archived = bus.events(datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 11, tzinfo=UTC))
    assert [e["id"] for e in archived] == ids[1:]
    # The rule is created after the events: a replay sends them through it.
    bus.put_rule("late", {"source": ["podium.lake"]}, [{"id": "t", "target": "rec"}])
    assert bus.dispatch(T0).attempted == 0
    queued = bus.replay("fix-1", datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 11, tzinfo=UTC), now=T0)
    assert queued == 2
    bus.dispatch(T0)
    delivered = recorded(any_store)
    assert [payload["id"] for _, payload in delivered] == ids[1:]
    assert {payload["replay-name"] for _, payload in delivered} == {"fix-1"}
    with pytest.raises(ConflictError, match="already run"):
        bus.replay("fix-1", datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 11, tzinfo=UTC), now=T0)
    with pytest.raises(NotFoundError, match="nope"):
        bus.replay("fix-2", datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC), rules=["nope"])
    # A replay that matches nothing is still recorded, so its name cannot run again.
    assert bus.replay("empty", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC), now=T0) == 0
    with pytest.raises(ConflictError):
        bus.replay("empty", datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC), now=T0)
    with pytest.raises(ValidationError, match="after start"):
        bus.replay("backwards", datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC))
    replays = {r["name"]: r for r in bus.replays()}
    assert set(replays) == {"fix-1", "empty"}
    assert (replays["fix-1"]["events"], replays["fix-1"]["deliveries"]) == (2, 2)
    assert replays["fix-1"]["start"] == "2026-01-05T09:00:00+00:00" and replays["empty"]["events"] == 0


def test_archive_retention_purges_old_events_only(bus):
    for day in (3, 4, 5):
        bus.put_events([{**FILE_EVENT, "time": f"2026-01-{day:02d}T12:00:00Z"}], now=T0)
    assert bus.purge_archive(datetime(2026, 1, 5, tzinfo=UTC)) == 2
    assert [e["time"] for e in bus.events()] == ["2026-01-05T12:00:00Z"]
    assert bus.purge_archive(datetime(2026, 1, 5, tzinfo=UTC)) == 0


def test_test_event_pattern():
    assert test_event_pattern('{"source": ["podium.lake"]}', FILE_EVENT)
    assert not test_event_pattern({"source": ["podium.engine"]}, FILE_EVENT)
    with pytest.raises(ValidationError):
        test_event_pattern({"source": "podium.lake"}, FILE_EVENT)


def test_a_dead_letter_target_receives_the_failure(any_store):
    targets = TargetRegistry()
    targets.register("dlq", RecordTarget(any_store, "dlq"))

    def broken(payload):
        raise TimeoutError("endpoint did not answer")

    targets.register("broken", broken)
    bus = EventBus(any_store, targets)
    bus.put_rule("r", {"source": ["podium.lake"]}, [
        {"id": "t", "target": "broken", "max_retry_attempts": 1, "input_path": "$.detail.key",
         "dead_letter": "dlq"},
    ])
    assert bus.get_rule("r").targets[0].to_dict()["dead_letter"] == "dlq"
    bus.put_events([FILE_EVENT], now=T0)
    for second in range(0, 30, 5):
        bus.dispatch(T0 + timedelta(seconds=second))
    ((key, message),) = recorded(any_store, "dlq")
    assert key.startswith("dead-letter:rule:r:t:")
    assert message["payload"] == "sales/2026-01-05.parquet"
    assert (message["reason"], message["attempts"], message["target"]) == ("retries-exhausted", 2, "broken")
    assert "endpoint did not answer" in message["error"] and message["origin_name"] == "r"
    assert len(bus.dead_letters()) == 1  # the table has it too
    with pytest.raises(ValidationError, match="dead_letter"):
        bus.put_rule("bad", {"source": ["x"]}, [{"id": "t", "target": "rec", "dead_letter": ""}])
