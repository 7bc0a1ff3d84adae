"""Delivery stream Task resource over `podium.ingest.delivery`.

  arn:aws:states:::podium:delivery.flush
      DeliveryStreamName: deliver everything the stream holds now — read the backing stream
      until it is caught up, write every buffer to the lake whatever the buffering hints,
      checkpoint — so the steps after it see every record put before it. Returns the counts.

A workflow uses it where a nightly batch must not start before the day's events are in the
lake; a continuously running `podium delivery run` does the same work on its own schedule.
"""

from __future__ import annotations

from typing import Any

from podium.config import Settings
from podium.errors import ValidationError
from podium.store import Store

# Consecutive empty polls after which the stream counts as caught up: the first polls may
# find no shard held yet while the consumer takes its leases.
EMPTY_POLLS = 3


class DeliveryIntegration:
    """The delivery flush handler, bound to one Podium home."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store

    def flush(self, params: dict[str, Any]) -> dict[str, Any]:
        from podium.ingest.delivery import DeliveryStreams
        from podium.ingest.streams import open_streams

        name = params.get("DeliveryStreamName") if isinstance(params, dict) else None
        if not name:
            raise ValidationError("podium:delivery.flush needs Parameters.DeliveryStreamName")
        streams = open_streams(self.settings.streams_url, home=self.settings.home)
        worker = DeliveryStreams(self.store, streams, lake_url=self.settings.lake_url).worker(
            name, self.settings.lake_url
        )
        try:
            empty = 0
            while empty < EMPTY_POLLS:
                empty = 0 if worker.step() else empty + 1
            worker.flush()
        finally:
            worker.close()
            streams.close()
        stats = worker.stats
        return {"DeliveryStreamName": name, "RecordsIn": stats.records_in, "Delivered": stats.delivered,
                "Failed": stats.failed, "ObjectsWritten": stats.files, "ErrorObjects": stats.error_files,
                "BytesWritten": stats.bytes_written}

    def handlers(self) -> dict[str, Any]:
        return {"arn:aws:states:::podium:delivery.flush": self.flush}
