"""HTTP routes of streams, in Kinesis's JSON shapes: PutRecord(s), GetShardIterator, GetRecords.

Data travels base64-encoded, as in the Kinesis API; timestamps are epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from podium.api.deps import AppContext, get_context
from podium.errors import ValidationError

router = APIRouter(prefix="/streams", tags=["streams"])


def _client(context: AppContext) -> Any:
    client = context.services.get("streams")
    if client is None:
        from podium.ingest.streams.factory import from_settings
        from podium.metrics import MetricStore

        client = from_settings(context.settings)
        # Per-stream metrics (IncomingRecords, iterator age, ...) go to the server's store.
        client.metrics = context.services.setdefault("metrics", MetricStore())
        client = context.services.setdefault("streams", client)
    return client


def _decode(data: str, index: int | None = None) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        where = f"Records[{index}].Data" if index is not None else "Data"
        raise ValidationError(f"{where} is not base64", code="InvalidArgument") from None


class CreateStream(BaseModel):
    StreamName: str
    ShardCount: int = 1
    RetentionPeriodHours: int = 24


class PutRecordBody(BaseModel):
    Data: str
    PartitionKey: str
    ExplicitHashKey: str | None = None


class PutRecordsBody(BaseModel):
    Records: list[PutRecordBody]


class IteratorBody(BaseModel):
    ShardId: str
    ShardIteratorType: str
    StartingSequenceNumber: str | None = None
    Timestamp: float | None = None


class GetRecordsBody(BaseModel):
    ShardIterator: str
    Limit: int = Field(10_000)


@router.get("", summary="ListStreams")
def list_streams(context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return {"StreamNames": _client(context).list_streams()}


@router.post("", summary="CreateStream", status_code=201)
def create_stream(body: CreateStream, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    meta = _client(context).create_stream(body.StreamName, body.ShardCount, body.RetentionPeriodHours)
    return {"StreamName": meta.name, "ShardCount": len(meta.shards)}


@router.get("/{name}", summary="DescribeStream")
def describe_stream(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    meta = _client(context).describe_stream(name)
    return {
        "StreamDescription": {
            "StreamName": meta.name,
            "StreamStatus": meta.status,
            "RetentionPeriodHours": meta.retention_hours,
            "StreamCreationTimestamp": meta.created_ms / 1000,
            "Shards": [s.to_dict() for s in meta.listed_shards()],
        }
    }


@router.delete("/{name}", summary="DeleteStream", status_code=204)
def delete_stream(name: str, context: AppContext = Depends(get_context)) -> None:
    _client(context).delete_stream(name)


@router.post("/{name}/record", summary="PutRecord")
def put_record(name: str, body: PutRecordBody, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    entry = _client(context).put_record(name, _decode(body.Data), body.PartitionKey, body.ExplicitHashKey)
    return {"ShardId": entry.shard_id, "SequenceNumber": entry.sequence_number}


@router.post("/{name}/records", summary="PutRecords (partial failure per record)")
def put_records(name: str, body: PutRecordsBody, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    entries = [(_decode(r.Data, i), r.PartitionKey, r.ExplicitHashKey) for i, r in enumerate(body.Records)]
    result = _client(context).put_records(name, entries)
    records = [
        {"ErrorCode": r.error_code, "ErrorMessage": r.error_message}
        if r.error_code
        else {"ShardId": r.shard_id, "SequenceNumber": r.sequence_number}
        for r in result.records
    ]
    return {"FailedRecordCount": result.failed_record_count, "Records": records}


@router.post("/{name}/shard-iterator", summary="GetShardIterator")
def shard_iterator(name: str, body: IteratorBody, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    token = _client(context).get_shard_iterator(
        name, body.ShardId, body.ShardIteratorType, body.StartingSequenceNumber, body.Timestamp
    )
    return {"ShardIterator": token}


@router.post("/{name}/get-records", summary="GetRecords")
def get_records(name: str, body: GetRecordsBody, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.ingest.streams.iterators import ShardPosition

    if ShardPosition.decode(body.ShardIterator, 0, None).stream != name:
        raise ValidationError(f"the shard iterator is not for stream '{name}'", code="InvalidArgument")
    page = _client(context).get_records(body.ShardIterator, body.Limit)
    return {
        "Records": [
            {
                "SequenceNumber": r.sequence_number,
                "ApproximateArrivalTimestamp": r.approximate_arrival_timestamp / 1000,
                "Data": base64.b64encode(r.data).decode(),
                "PartitionKey": r.partition_key,
            }
            for r in page.records
        ],
        "NextShardIterator": page.next_shard_iterator,
        "MillisBehindLatest": page.millis_behind_latest,
        "ChildShards": [{"ShardId": s} for s in page.child_shards],
    }


@router.get("/{name}/metrics", summary="Stream metrics (Kinesis names) over a window")
def stream_metrics(
    name: str,
    window: float = Query(300.0, gt=0, le=86_400, description="seconds"),
    format: str = Query("json", pattern="^(json|prometheus)$"),
    context: AppContext = Depends(get_context),
) -> Any:
    from podium.ingest.streams import metrics

    client = _client(context)
    client.describe_stream(name)  # 404 for an unknown stream
    if format == "prometheus":
        return PlainTextResponse(metrics.prometheus(client.metrics, name, window))
    return metrics.summary(client.metrics, name, window)


class RegisterConsumerBody(BaseModel):
    ConsumerName: str


class StartingPositionBody(BaseModel):
    Type: str = "LATEST"
    SequenceNumber: str | None = None
    Timestamp: float | None = None


class SubscribeBody(BaseModel):
    ShardId: str
    StartingPosition: StartingPositionBody = Field(default_factory=StartingPositionBody)


@router.post("/{name}/consumers", summary="RegisterStreamConsumer (enhanced fan-out)", status_code=201)
def register_consumer(
    name: str, body: RegisterConsumerBody, context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return {"Consumer": _client(context).register_stream_consumer(name, body.ConsumerName).to_dict()}


@router.get("/{name}/consumers", summary="ListStreamConsumers")
def list_consumers(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return {"Consumers": [c.to_dict() for c in _client(context).list_stream_consumers(name)]}


@router.delete("/{name}/consumers/{consumer}", summary="DeregisterStreamConsumer", status_code=204)
def deregister_consumer(name: str, consumer: str, context: AppContext = Depends(get_context)) -> None:
    _client(context).deregister_stream_consumer(name, consumer)


@router.post("/{name}/consumers/{consumer}/subscribe", summary="SubscribeToShard (NDJSON event stream)")
def subscribe(
    name: str, consumer: str, body: SubscribeBody, context: AppContext = Depends(get_context)
) -> StreamingResponse:
    """Pushes one JSON SubscribeToShardEvent per line until the subscription ends (its
    lifetime, the shard's end, or a newer subscription taking over)."""
    client = _client(context)
    start = body.StartingPosition
    arn = client.describe_stream_consumer(name, consumer).arn
    sub = client.subscribe_to_shard(arn, body.ShardId, start.Type, start.SequenceNumber, start.Timestamp)

    async def events() -> Any:
        # An async generator: when the client goes away the response task is cancelled at
        # the await below and `finally` ends the subscription (and its reading thread).
        import json

        from anyio import to_thread

        try:
            while not sub.done:
                event = await to_thread.run_sync(sub.next_event, 0.5)
                if event is None:
                    continue
                yield json.dumps(
                    {
                        "SubscribeToShardEvent": {
                            "Records": [_record_json(r) for r in event.records],
                            "ContinuationSequenceNumber": event.continuation_sequence_number,
                            "MillisBehindLatest": event.millis_behind_latest,
                            "ChildShards": [{"ShardId": s} for s in event.child_shards],
                        }
                    }
                ) + "\n"
        finally:
            sub.close()

    return StreamingResponse(events(), media_type="application/x-ndjson")


def _record_json(r: Any) -> dict[str, Any]:
    return {
        "SequenceNumber": r.sequence_number,
        "ApproximateArrivalTimestamp": r.approximate_arrival_timestamp / 1000,
        "Data": base64.b64encode(r.data).decode(),
        "PartitionKey": r.partition_key,
    }
