from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.ingest.delivery import DeliveryLimits, DeliveryStreams
from podium.ingest.streams import StreamsClient
from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions
from podium.store import Store

TINY = DeliveryLimits(min_buffer_mb=0.0001)


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[StreamsClient]:
    client = StreamsClient(EmbeddedLogBackend(tmp_path / "streams", EmbeddedOptions(fsync="never")))
    yield client
    client.close()


@pytest.fixture
def deliveries(store: Store, streams: StreamsClient) -> DeliveryStreams:
    return DeliveryStreams(store, streams, TINY)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"
