"""The /streams routes in Kinesis's JSON shapes."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from podium.api import create_app
from podium.config import Settings
from podium.store import Store


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_put_and_get_records(settings: Settings, store: Store) -> None:
    with TestClient(create_app(settings, store)) as client:
        assert client.post("/streams", json={"StreamName": "s", "ShardCount": 2}).status_code == 201
        assert client.get("/streams").json() == {"StreamNames": ["s"]}
        one = client.post("/streams/s/record", json={"Data": b64("first"), "PartitionKey": "k"}).json()
        assert one["SequenceNumber"] and one["ShardId"].startswith("shardId-")
        batch = client.post(
            "/streams/s/records",
            json={"Records": [{"Data": b64("second"), "PartitionKey": "k"}, {"Data": b64("bad"), "PartitionKey": ""}]},
        ).json()
        assert batch["FailedRecordCount"] == 1
        assert batch["Records"][1]["ErrorCode"] == "ValidationError"
        iterator = client.post(
            "/streams/s/shard-iterator", json={"ShardId": one["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
        ).json()["ShardIterator"]
        page = client.post("/streams/s/get-records", json={"ShardIterator": iterator}).json()
        assert [base64.b64decode(r["Data"]) for r in page["Records"]] == [b"first", b"second"]
        assert page["MillisBehindLatest"] == 0 and page["NextShardIterator"]
        shards = client.get("/streams/s").json()["StreamDescription"]["Shards"]
        assert len(shards) == 2
        missing = client.post("/streams/nope/record", json={"Data": b64("x"), "PartitionKey": "k"})
        assert missing.status_code == 404 and missing.json()["code"] == "ResourceNotFound"
        bad = client.post("/streams/s/record", json={"Data": "%%%", "PartitionKey": "k"})
        assert bad.status_code == 400
