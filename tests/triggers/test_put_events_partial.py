"""PutEvents with partial failure (EventBridge semantics): each entry is validated on its
own, the valid ones are stored and routed, each invalid one is reported with its code."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from podium.errors import ValidationError
from podium.store.tables.triggers import triggers_recorded
from podium.triggers.bus import EventBus
from podium.triggers.targets import RecordTarget, TargetRegistry

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def good(n: int) -> dict:
    return {"source": "podium.lake", "detail-type": "Object Created", "detail": {"n": n}}


def make_bus(store) -> EventBus:
    targets = TargetRegistry()
    targets.register("rec", RecordTarget(store, "rec"))
    bus = EventBus(store, targets)
    bus.put_rule("lake", {"source": ["podium.lake"]}, [{"id": "t", "target": "rec"}])
    return bus


def test_mixed_batch_stores_every_good_entry_and_reports_each_bad_one(any_store):
    bus = make_bus(any_store)
    batch = [
        good(1),
        {"detail-type": "Object Created", "detail": {}},  # no source
        good(2),
        {**good(0), "detail": "{not json"},  # detail text that does not parse
        {**good(0), "detail": [1, 2]},  # detail not an object
        {**good(0), "time": "yesterday"},
        "not an object",
        good(3),
        {**good(0), "resources": "arn:x"},
        {"source": "podium.lake", "detail": {}},  # no detail-type
    ]
    result = bus.put_events_detailed(batch, now=T0)

    assert result.failed_entry_count == 7
    assert len(result.entries) == len(batch)  # one answer per entry, in request order
    codes = [e.error_code for e in result.entries]
    assert codes == [
        None, "InvalidArgument", None, "MalformedDetail", "MalformedDetail",
        "InvalidArgument", "InvalidArgument", None, "InvalidArgument", "InvalidArgument",
    ]
    assert "entries[1].source" in result.entries[1].error_message
    assert "entries[5].time" in result.entries[5].error_message
    for entry in result.entries:
        assert (entry.event_id is None) == (entry.error_code is not None)
        assert (entry.error_message is None) == (entry.error_code is None)

    stored_ids = [result.entries[i].event_id for i in (0, 2, 7)]
    assert result.event_ids == stored_ids
    archived = bus.events()
    assert sorted(e["id"] for e in archived) == sorted(stored_ids)
    assert sorted(e["detail"]["n"] for e in archived) == [1, 2, 3]

    # The good ones were routed too: one delivery each, delivered.
    assert bus.dispatch(T0).succeeded == 3
    with any_store.connect() as connection:
        keys = connection.execute(select(triggers_recorded.c.idempotency_key)).scalars().all()
    assert sorted(keys) == sorted(f"rule:lake:t:{i}" for i in stored_ids)


def test_all_bad_batch_stores_nothing_and_raises_nothing(store):
    bus = make_bus(store)
    result = bus.put_events_detailed([{"source": "x"}, {**good(0), "detail": 7}], now=T0)
    assert result.failed_entry_count == 2 and result.event_ids == []
    assert bus.events() == [] and bus.pending_deliveries() == 0
    assert result.to_dict()["entries"][1]["error_code"] == "MalformedDetail"


def test_result_document_and_batch_limits(store):
    bus = make_bus(store)
    result = bus.put_events_detailed([good(1), {"source": ""}], now=T0)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["failed_entry_count"] == 1
    assert document["entries"][0] == {"event_id": result.event_ids[0]}
    assert set(document["entries"][1]) == {"error_code", "error_message"}
    # The batch size is a request-level rule, as in EventBridge: the batch fails whole.
    with pytest.raises(ValidationError, match="1-10 entries"):
        bus.put_events_detailed([good(i) for i in range(11)])
    with pytest.raises(ValidationError, match="1-10 entries"):
        bus.put_events_detailed([])
    assert len(bus.events()) == 1


def test_plain_put_events_stays_atomic(store):
    bus = make_bus(store)
    with pytest.raises(ValidationError, match=r"entries\[1\].detail") as caught:
        bus.put_events([good(1), {**good(2), "detail": "{"}], now=T0)
    assert caught.value.details == {"error_code": "MalformedDetail"}
    assert bus.events() == []
