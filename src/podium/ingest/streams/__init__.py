"""Real-time streams (the Kinesis Data Streams stand-in): shards, sequence numbers, iterators.

    from podium.ingest.streams import open_streams
    streams = open_streams("embedded", home=path)     # or "redis://127.0.0.1:6379/0"
    streams.create_stream("clicks", shard_count=4)
    streams.put_records("clicks", [(b'{"x": 1}', "user-1")])
"""

from __future__ import annotations

from podium.ingest.streams.client import StreamsClient
from podium.ingest.streams.factory import open_streams
from podium.ingest.streams.iterators import IteratorType
from podium.ingest.streams.limits import StreamLimits
from podium.ingest.streams.model import (
    GetRecordsResult,
    PutRecordsEntry,
    PutRecordsResult,
    PutRecordsResultEntry,
    Record,
    ShardMeta,
    StreamMeta,
)

__all__ = [
    "GetRecordsResult",
    "IteratorType",
    "PutRecordsEntry",
    "PutRecordsResult",
    "PutRecordsResultEntry",
    "Record",
    "ShardMeta",
    "StreamLimits",
    "StreamMeta",
    "StreamsClient",
    "open_streams",
]
