"""Per-shard throughput limits, as Kinesis enforces them (switchable, off by default).

Writes: Kinesis accepts 1,000 records and 1 MiB per second per shard and fails the excess
records with ProvisionedThroughputExceededException. Setting
`StreamLimits.shard_records_per_s` / `shard_bytes_per_s` reproduces that (token buckets
refilled continuously, a one-second burst), so producers' retry logic can be tested locally.

Reads: Kinesis allows 5 GetRecords calls and 2 MiB per second per shard, shared by every
polling consumer. A call over the call rate fails; a call that returns more bytes than the
budget holds still succeeds, and the shard's calls fail until the debt is paid back (AWS:
"subsequent calls made within the next 5 seconds throw an exception" after a 10 MiB read).
`StreamLimits.shard_read_tps` / `shard_read_bytes_per_s` switch this on.

Buckets live in the process that serves the calls (the API server, or the process using a
`StreamsClient` directly).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from podium.errors import PodiumError

THROTTLED = "ProvisionedThroughputExceededException"


class ThroughputExceededError(PodiumError):
    """A shard's read limit was exceeded; back off and retry the same iterator later."""

    code = THROTTLED
    http_status = 429


class ShardThrottle:
    def __init__(
        self, records_per_s: int | None, bytes_per_s: int | None, clock: Callable[[], int]
    ) -> None:
        self.records_per_s = records_per_s
        self.bytes_per_s = bytes_per_s
        self.clock = clock
        self._buckets: dict[tuple[str, str], list[float]] = {}  # [records, bytes, at ms]
        self._lock = threading.Lock()  # API requests run on several threads

    def admit(self, stream: str, shard_id: str, size: int) -> bool:
        """Take one record of `size` bytes from the shard's budget, if it has room."""
        with self._lock:
            return self._admit(stream, shard_id, size)

    def _admit(self, stream: str, shard_id: str, size: int) -> bool:
        now = self.clock()
        rate_r = self.records_per_s or 0
        rate_b = self.bytes_per_s or 0
        bucket = self._buckets.get((stream, shard_id))
        if bucket is None:
            bucket = self._buckets[(stream, shard_id)] = [float(rate_r), float(rate_b), now]
        elapsed = (now - bucket[2]) / 1000
        bucket[2] = now
        if self.records_per_s is not None:
            bucket[0] = min(rate_r, bucket[0] + elapsed * rate_r)
            if bucket[0] < 1:
                return False
        if self.bytes_per_s is not None:
            bucket[1] = min(rate_b, bucket[1] + elapsed * rate_b)
            if bucket[1] < size:
                return False
            bucket[1] -= size
        if self.records_per_s is not None:
            bucket[0] -= 1
        return True


class ReadThrottle:
    """GetRecords limits per shard: calls per second and bytes per second (with debt)."""

    def __init__(
        self, calls_per_s: int | None, bytes_per_s: int | None, clock: Callable[[], int]
    ) -> None:
        self.calls_per_s = calls_per_s
        self.bytes_per_s = bytes_per_s
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], list[float]] = {}  # [calls, bytes, at ms]

    def _bucket(self, stream: str, shard_id: str) -> list[float]:
        now = self.clock()
        bucket = self._buckets.get((stream, shard_id))
        if bucket is None:
            bucket = [float(self.calls_per_s or 0), float(self.bytes_per_s or 0), now]
            self._buckets[(stream, shard_id)] = bucket
        elapsed = (now - bucket[2]) / 1000
        bucket[2] = now
        if self.calls_per_s is not None:
            bucket[0] = min(self.calls_per_s, bucket[0] + elapsed * self.calls_per_s)
        if self.bytes_per_s is not None:
            bucket[1] = min(self.bytes_per_s, bucket[1] + elapsed * self.bytes_per_s)
        return bucket

    def admit(self, stream: str, shard_id: str) -> None:
        """Take one call from the shard's budget or raise ThroughputExceededError."""
        with self._lock:
            bucket = self._bucket(stream, shard_id)
            if self.bytes_per_s is not None and bucket[1] < 0:
                wait = -bucket[1] / self.bytes_per_s
                raise ThroughputExceededError(
                    f"read rate exceeded for shard {shard_id} of stream {stream}: more than "
                    f"{self.bytes_per_s} bytes/s were read (setting shard_read_bytes_per_s); "
                    f"retry in {wait:.1f} s",
                    code=THROTTLED,
                )
            if self.calls_per_s is not None:
                if bucket[0] < 1:
                    raise ThroughputExceededError(
                        f"read rate exceeded for shard {shard_id} of stream {stream}: more than "
                        f"{self.calls_per_s} GetRecords calls/s (setting shard_read_tps)",
                        code=THROTTLED,
                    )
                bucket[0] -= 1

    def charge(self, stream: str, shard_id: str, size: int) -> None:
        """Count the bytes a call returned; the budget may go into debt."""
        if self.bytes_per_s is None or not size:
            return
        with self._lock:
            self._bucket(stream, shard_id)[1] -= size
