"""Request/response capture to the lake (SageMaker Data Capture), for later monitoring.

Captured records are buffered and written as JSON Lines files under
`<lake>/capture/<endpoint>/<variant>/YYYY/MM/DD/HH/<uuid>.jsonl`, each file appearing whole
(written to a temporary name, then renamed). A record is captured with the configured sampling
probability, decided per request.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fsspec

from podium.errors import ValidationError


@dataclass
class CaptureConfig:
    destination: str  # lake URL or path
    sampling_percentage: float = 100.0
    flush_records: int = 1000
    flush_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.sampling_percentage <= 100:
            raise ValidationError("DataCaptureConfig.InitialSamplingPercentage must be 0..100")

    @classmethod
    def from_aws(cls, config: dict[str, Any], default_destination: str) -> CaptureConfig | None:
        """From SageMaker's DataCaptureConfig; None when capture is off."""
        if not config or not config.get("EnableCapture", True):
            return None
        return cls(destination=config.get("DestinationS3Uri") or default_destination,
                   sampling_percentage=float(config.get("InitialSamplingPercentage", 100)))


def _encode(data: bytes, content_type: str) -> dict[str, str]:
    if content_type.startswith(("application/json", "text/")):
        try:
            return {"observedContentType": content_type, "mode": "TEXT", "data": data.decode()}
        except UnicodeDecodeError:
            pass
    return {"observedContentType": content_type, "mode": "BASE64", "data": base64.b64encode(data).decode()}


@dataclass
class CaptureWriter:
    """Buffers captured invocations of one endpoint and writes them to the lake."""

    endpoint: str
    config: CaptureConfig
    rng: random.Random = field(default_factory=random.Random)
    _buffers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_flush: float = field(default_factory=time.monotonic)
    written: int = 0

    def offer(self, variant: str, request: bytes, request_type: str, response: bytes, response_type: str,
              status: int) -> bool:
        """Capture one invocation if sampled; returns whether it was."""
        if self.rng.random() * 100 >= self.config.sampling_percentage:
            return False
        record = {
            "captureData": {"endpointInput": _encode(request, request_type),
                            "endpointOutput": _encode(response, response_type)},
            "eventMetadata": {"eventId": str(uuid.uuid4()),
                              "inferenceTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
                              "statusCode": status},
            "eventVersion": "0",
        }
        with self._lock:
            self._buffers.setdefault(variant, []).append(record)
            pending = sum(len(b) for b in self._buffers.values())
        if pending >= self.config.flush_records or time.monotonic() - self._last_flush >= self.config.flush_seconds:
            self.flush()
        return True

    def flush(self) -> int:
        """Write every buffered record; returns how many were written."""
        with self._lock:
            buffers, self._buffers = self._buffers, {}
            self._last_flush = time.monotonic()
        count = 0
        now = datetime.now(UTC)
        for variant, records in buffers.items():
            if not records:
                continue
            folder = f"{self.config.destination.rstrip('/')}/{self.endpoint}/{variant}/{now:%Y/%m/%d/%H}"
            fs, _, (root,) = fsspec.get_fs_token_paths(folder)
            fs.makedirs(root, exist_ok=True)
            name = f"{uuid.uuid4().hex}.jsonl"
            temporary, final = f"{root}/.{name}.partial", f"{root}/{name}"
            with fs.open(temporary, "w") as handle:
                handle.write("".join(json.dumps(r) + "\n" for r in records))
            fs.mv(temporary, final)
            count += len(records)
        self.written += count
        return count
