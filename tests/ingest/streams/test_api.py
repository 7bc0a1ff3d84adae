"""HTTP routes added for streams: metrics, read throttling, enhanced fan-out."""

from __future__ import annotations

import base64
import json
import time

from fastapi.testclient import TestClient

from podium.api import create_app
from podium.config import Settings
from podium.store import Store


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_metrics_route(settings: Settings, store: Store) -> None:
    with TestClient(create_app(settings, store)) as client:
        client.post("/streams", json={"StreamName": "s", "ShardCount": 1})
        records = [{"Data": b64("abc"), "PartitionKey": "k"}] * 3 + [{"Data": b64("x"), "PartitionKey": ""}]
        assert client.post("/streams/s/records", json={"Records": records}).json()["FailedRecordCount"] == 1
        shard = client.get("/streams/s").json()["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = client.post(
            "/streams/s/shard-iterator", json={"ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}
        ).json()["ShardIterator"]
        client.post("/streams/s/get-records", json={"ShardIterator": iterator})
        body = client.get("/streams/s/metrics", params={"window": 600}).json()
        assert body["StreamName"] == "s"
        got = body["Metrics"]
        assert got["IncomingRecords"]["Sum"] == 3 and got["IncomingBytes"]["Sum"] == 9
        assert got["PutRecords.FailedRecords"]["Sum"] == 1
        assert got["GetRecords.Records"]["Sum"] == 3 and got["GetRecords.Bytes"]["Sum"] == 9
        assert got["GetRecords.IteratorAgeMilliseconds"]["Maximum"] == 0
        text = client.get("/streams/s/metrics", params={"format": "prometheus"}).text
        assert 'podium_stream_incoming_records_total{stream_name="s"} 3' in text
        assert 'podium_stream_get_records_iterator_age_max_milliseconds{stream_name="s"} 0' in text
        assert client.get("/streams/nope/metrics").status_code == 404


def test_read_throttling_answers_429(tmp_path, store: Store) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.for_home(tmp_path, streams_url="embedded?shard_read_tps=1")
    with TestClient(create_app(settings, store)) as client:
        client.post("/streams", json={"StreamName": "s", "ShardCount": 1})
        shard = client.get("/streams/s").json()["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = client.post(
            "/streams/s/shard-iterator", json={"ShardId": shard, "ShardIteratorType": "LATEST"}
        ).json()["ShardIterator"]
        assert client.post("/streams/s/get-records", json={"ShardIterator": iterator}).status_code == 200
        second = client.post("/streams/s/get-records", json={"ShardIterator": iterator})
        assert second.status_code == 429
        assert second.json()["code"] == "ProvisionedThroughputExceededException"
        metrics = client.get("/streams/s/metrics").json()["Metrics"]
        assert metrics["ReadProvisionedThroughputExceeded"]["Sum"] == 1


def test_enhanced_fan_out_routes(settings: Settings, store: Store) -> None:
    with TestClient(create_app(settings, store)) as client:
        client.post("/streams", json={"StreamName": "s", "ShardCount": 1})
        client.post("/streams/s/records", json={"Records": [{"Data": b64("a"), "PartitionKey": "k"}]})
        made = client.post("/streams/s/consumers", json={"ConsumerName": "billing"})
        assert made.status_code == 201 and made.json()["Consumer"]["ConsumerName"] == "billing"
        again = client.post("/streams/s/consumers", json={"ConsumerName": "billing"})
        assert again.status_code == 409 and again.json()["code"] == "ResourceInUse"
        assert [c["ConsumerName"] for c in client.get("/streams/s/consumers").json()["Consumers"]] == ["billing"]
        shard = client.get("/streams/s").json()["StreamDescription"]["Shards"][0]["ShardId"]
        body = {"ShardId": shard, "StartingPosition": {"Type": "TRIM_HORIZON"}}
        with client.stream("POST", "/streams/s/consumers/billing/subscribe", json=body) as response:
            assert response.status_code == 200
            first = json.loads(next(response.iter_lines()))["SubscribeToShardEvent"]
        assert [base64.b64decode(r["Data"]) for r in first["Records"]] == [b"a"]
        streams = client.app.state.podium.services["streams"]  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while streams._subscriptions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not streams._subscriptions  # the client went away: the subscription ended
        assert first["ContinuationSequenceNumber"] > first["Records"][0]["SequenceNumber"]
        assert client.delete("/streams/s/consumers/billing").status_code == 204
        assert client.get("/streams/s/consumers").json() == {"Consumers": []}
