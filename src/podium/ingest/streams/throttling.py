"""Per-shard write throughput limits, as Kinesis enforces them (switchable, off by default).

Kinesis accepts 1,000 records and 1 MiB per second per shard and fails the excess records
with ProvisionedThroughputExceededException. Setting `StreamLimits.shard_records_per_s` /
`shard_bytes_per_s` reproduces that in one process (token buckets refilled continuously, a
one-second burst), so producers' retry logic can be tested locally.
"""

from __future__ import annotations

from collections.abc import Callable

THROTTLED = "ProvisionedThroughputExceededException"


class ShardThrottle:
    def __init__(
        self, records_per_s: int | None, bytes_per_s: int | None, clock: Callable[[], int]
    ) -> None:
        self.records_per_s = records_per_s
        self.bytes_per_s = bytes_per_s
        self.clock = clock
        self._buckets: dict[tuple[str, str], list[float]] = {}  # [records, bytes, at ms]

    def admit(self, stream: str, shard_id: str, size: int) -> bool:
        """Take one record of `size` bytes from the shard's budget, if it has room."""
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
