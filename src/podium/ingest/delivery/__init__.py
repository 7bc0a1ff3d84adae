"""Buffered delivery to the lake (the Data Firehose stand-in): buffering hints, transforms,
JSON to Parquet, dynamic partitioning, error prefixes, atomic objects.

    deliveries = DeliveryStreams(store, streams)
    deliveries.create({"name": "orders", "destination": "raw/orders", "format": "parquet",
                       "schema": [["id", "int64"], ["customer", "string"]]})
    worker = deliveries.worker("orders", settings.lake_url)
    worker.run()
"""

from podium.ingest.delivery.definition import DeliveryDefinition, DeliveryLimits
from podium.ingest.delivery.deliveries import DeliveryStreams
from podium.ingest.delivery.worker import DeliveryStats, DeliveryWorker

__all__ = ["DeliveryDefinition", "DeliveryLimits", "DeliveryStats", "DeliveryStreams", "DeliveryWorker"]
