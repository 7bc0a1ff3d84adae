"""The delivery flush Task resource: everything on the stream lands in the lake as Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from podium.asl import execute
from podium.config import Settings
from podium.ingest.delivery import DeliveryStreams
from podium.ingest.streams.factory import from_settings
from podium.integrations import build_resources
from podium.store import Store

FLUSH = {"StartAt": "Flush", "States": {"Flush": {
    "Type": "Task", "Resource": "arn:aws:states:::podium:delivery.flush",
    "Parameters": {"DeliveryStreamName": "clicks-to-lake"}, "End": True}}}


def test_flush_delivers_every_record_partitioned_by_hour(settings: Settings, store: Store) -> None:
    streams = from_settings(settings)
    try:
        streams.create_stream("clicks", shard_count=2)
        DeliveryStreams(store, streams, lake_url=settings.lake_url).create({
            "name": "clicks-to-lake", "source_stream": "clicks", "destination": "raw/clicks",
            "format": "parquet", "schema": [["user", "int64"], ["hour", "string"]],
            "partition_keys": {"hour": ".hour"}, "prefix": "hour=!{partitionKeyFromQuery:hour}/",
            "buffer_size_mb": 1, "buffer_interval_s": 900,
        })
        records = [(json.dumps({"user": i, "hour": f"{i % 3:02d}"}).encode(), str(i)) for i in range(30)]
        assert streams.put_records("clicks", records).failed_record_count == 0
    finally:
        streams.close()
    resources = build_resources(settings, store)
    execution = execute(FLUSH, {}, resources=resources)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output["RecordsIn"] == 30 and execution.output["Delivered"] == 30
    root = Path(settings.lake_url) / "raw" / "clicks"
    assert sorted(p.name for p in root.iterdir()) == ["hour=00", "hour=01", "hour=02"]
    users = sorted(u for f in root.glob("hour=*/*") for u in pq.read_table(f).column("user").to_pylist())
    assert users == list(range(30))
    again = execute(FLUSH, {}, resources=resources)  # checkpointed: nothing is delivered twice
    assert again.output["RecordsIn"] == 0 and again.output["ObjectsWritten"] == 0


def test_flush_needs_a_name(settings: Settings, store: Store) -> None:
    definition = json.loads(json.dumps(FLUSH))
    definition["States"]["Flush"]["Parameters"] = {}
    execution = execute(definition, {}, resources=build_resources(settings, store))
    assert execution.status == "FAILED" and "DeliveryStreamName" in (execution.cause or "")
