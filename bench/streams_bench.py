"""Streams throughput: batched put, read, and put -> consumer -> checkpoint, in records/s.

Embedded log and Redis Streams backends, 100-byte and 1-KiB records. The Redis backend is
compared with raw redis-py (pipelined XADD of the same records, XRANGE reads) measured in
the same run; the embedded log with the targets (200,000 records/s put, 100,000 records/s
end to end on one core). Delivery: MB/s from a stream to Parquet in the lake.

    .venv/bin/python bench/streams_bench.py [--quick] [--no-redis]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from podium.ingest.streams import StreamsClient
from podium.ingest.streams.consumer import Consumer
from podium.ingest.streams.embedded import EmbeddedLogBackend, EmbeddedOptions
from podium.store import open_store

REDIS_URL = "redis://127.0.0.1:6379/0"
BATCH = 500
SHARDS = 4


def records(n: int, size: int) -> list[tuple[bytes, str]]:
    payload = os.urandom(size)
    return [(payload, f"user-{i % 1000}") for i in range(n)]


CPU: dict[str, float] = {}
RUNQ: dict[str, float] = {}


def runqueue_wait_s() -> float:
    """Seconds this process's threads spent runnable but waiting for a CPU (Linux
    /proc/<pid>/task/*/schedstat, second field): what other load on a shared machine costs."""
    total = 0
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/schedstat") as fh:
                total += int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return total / 1e9


def timed(fn, label: str = "") -> float:  # type: ignore[no-untyped-def]
    """Wall seconds of fn(); its CPU seconds (this process) are kept under `label`, and the
    time it waited for a CPU because other processes were running under `label` in RUNQ."""
    cpu, waited, start = time.process_time(), runqueue_wait_s(), time.perf_counter()
    fn()
    CPU[label] = time.process_time() - cpu
    RUNQ[label] = runqueue_wait_s() - waited
    return time.perf_counter() - start


def put_all(client: StreamsClient, stream: str, recs: list[tuple[bytes, str]]) -> None:
    for i in range(0, len(recs), BATCH):
        result = client.put_records(stream, recs[i : i + BATCH])
        assert result.failed_record_count == 0


def read_all(client: StreamsClient, stream: str) -> int:
    total = 0
    for shard in client.list_shards(stream):
        iterator = client.get_shard_iterator(stream, shard.shard_id, "TRIM_HORIZON")
        while True:
            page = client.get_records(iterator, limit=10_000)
            total += len(page.records)
            if not page.records:
                break
            iterator = page.next_shard_iterator  # type: ignore[assignment]
    return total


def consume_all(client: StreamsClient, store, stream: str, expected: int) -> int:  # type: ignore[no-untyped-def]
    consumer = Consumer(client, store, f"bench-{uuid.uuid4().hex[:6]}", stream, batch_limit=10_000, poll_interval_s=0.001)
    seen = 0
    for batch in consumer:
        seen += len(batch.records)
        consumer.checkpoint()
        if seen >= expected:
            break
    consumer.close()
    return seen


def fan_out_all(client: StreamsClient, stream: str) -> int:
    """Every record of the stream through enhanced fan-out subscriptions, shard by shard."""
    arn = client.register_stream_consumer(stream, f"bench-{uuid.uuid4().hex[:6]}").arn
    total = 0
    for shard in client.list_shards(stream):
        with client.subscribe_to_shard(arn, shard.shard_id, "TRIM_HORIZON") as sub:
            for event in sub:
                total += len(event.records)
                if event.millis_behind_latest == 0:
                    break  # caught up with the shard (nothing newer is stored)
    return total


def measure(client: StreamsClient, store, n: int, size: int, tag: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    recs = records(n, size)
    put_stream, e2e_stream = f"put-{tag}-{size}", f"e2e-{tag}-{size}"
    client.create_stream(put_stream, SHARDS)
    client.create_stream(e2e_stream, SHARDS)
    put_s = timed(lambda: put_all(client, put_stream, recs), "put")
    count = 0

    def do_read() -> None:
        nonlocal count
        count = read_all(client, put_stream)

    read_s = timed(do_read, "read")
    assert count == n, (count, n)

    def do_fan_out() -> None:
        nonlocal count
        count = fan_out_all(client, put_stream)

    fan_out_s = timed(do_fan_out, "efo")
    assert count == n, (count, n)

    def do_e2e() -> None:
        put_all(client, e2e_stream, recs)
        assert consume_all(client, store, e2e_stream, n) == n

    e2e_s = timed(do_e2e, "e2e")
    return {
        "put": n / put_s,
        "read": n / read_s,
        "e2e": n / e2e_s,
        "efo": n / fan_out_s,
        "efo_cpu": n / CPU["efo"],
        # Wall clock minus the time spent queued behind other processes for a CPU.
        "put_own": n / max(put_s - RUNQ["put"], 1e-9),
        "e2e_own": n / max(e2e_s - RUNQ["e2e"], 1e-9),
        "put_cpu": n / CPU["put"],
        "read_cpu": n / CPU["read"],
        "e2e_cpu": n / CPU["e2e"],
    }


def raw_redis(n: int, size: int) -> dict[str, float]:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    key_base = f"bench-raw:{uuid.uuid4().hex}"
    recs = records(n, size)
    keys = [f"{key_base}:{i}" for i in range(SHARDS)]

    def put() -> None:
        for i in range(0, n, BATCH):
            pipe = r.pipeline(transaction=False)
            for j, (data, key) in enumerate(recs[i : i + BATCH]):
                pipe.xadd(keys[(i + j) % SHARDS], {"k": key, "d": data})
            pipe.execute()

    def read() -> None:
        total = 0
        for key in keys:
            start = "-"
            while True:
                page = r.xrange(key, start, "+", count=10_000)
                if not page:
                    break
                total += len(page)
                last = page[-1][0].decode()
                ms, seq = last.split("-")
                start = f"{ms}-{int(seq) + 1}"
        assert total == n

    put_s, read_s = timed(put, "raw_put"), timed(read, "raw_read")
    r.delete(*keys)
    r.close()
    return {"put": n / put_s, "read": n / read_s, "put_cpu": n / CPU["raw_put"], "read_cpu": n / CPU["raw_read"]}


def delivery_mb_s(client: StreamsClient, store, lake: str, n: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from podium.ingest.delivery import DeliveryStreams

    client.create_stream("orders", SHARDS)
    docs = [json.dumps({"id": i, "customer": f"c{i % 50}", "amount": i * 0.5, "note": "x" * 60}).encode() for i in range(n)]
    put_all(client, "orders", [(d, str(i)) for i, d in enumerate(docs)])
    megabytes = sum(len(d) for d in docs) / 1e6
    deliveries = DeliveryStreams(store, client)
    deliveries.create(
        {
            "name": "orders",
            "destination": "orders",
            "source_stream": "orders",
            "format": "parquet",
            "schema": [["id", "int64"], ["customer", "string"], ["amount", "double"], ["note", "string"]],
            "buffer_size_mb": 5,
            "buffer_interval_s": 300,
        }
    )
    worker = deliveries.worker("orders", lake, batch_limit=10_000)

    def run() -> None:
        while worker.stats.records_in < n:
            worker.step()
        worker.flush()

    seconds = timed(run, "delivery")
    assert worker.stats.delivered == n
    return megabytes / seconds, n / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the records")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    sizes = {100: int(200_000 * scale), 1024: int(100_000 * scale)}
    work = Path(tempfile.mkdtemp(prefix="podium-streams-bench-"))
    store = open_store(f"sqlite:///{work}/podium.db")
    try:
        print(f"{'backend':<10} {'size':>5} {'put rec/s':>12} {'read rec/s':>12} {'e2e rec/s':>12}")
        embedded = StreamsClient(EmbeddedLogBackend(work / "streams", EmbeddedOptions(fsync="interval")))
        results = {}
        for size, n in sizes.items():
            results[size] = measure(embedded, store, n, size, "emb")
            r = results[size]
            print(f"{'embedded':<10} {size:>5} {r['put']:>12,.0f} {r['read']:>12,.0f} {r['e2e']:>12,.0f}")
            print(
                f"{'  per CPU-s':<10} {size:>5} {r['put_cpu']:>12,.0f} {r['read_cpu']:>12,.0f} "
                f"{r['e2e_cpu']:>12,.0f}"
            )
            print(f"  enhanced fan-out read: {r['efo']:,.0f} rec/s ({r['efo_cpu']:,.0f} per CPU-s)")
        r100 = results[100]
        print(
            f"  targets (100 B, one core = per CPU-second of this process): put "
            f"{r100['put_cpu'] / 200_000:.2f}x of 200,000/s, end-to-end "
            f"{r100['e2e_cpu'] / 100_000:.2f}x of 100,000/s (wall clock: {r100['put'] / 200_000:.2f}x, "
            f"{r100['e2e'] / 100_000:.2f}x; load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"  wall clock minus run-queue wait (time queued behind other processes): put "
            f"{r100['put_own']:,.0f}/s, end-to-end {r100['e2e_own']:,.0f}/s"
        )
        if not args.no_redis:
            from podium.ingest.streams.redis import RedisStreamsBackend

            prefix = f"bench:{uuid.uuid4().hex}"
            redis_client = StreamsClient(RedisStreamsBackend.from_url(REDIS_URL, prefix=prefix))
            try:
                for size, n in sizes.items():
                    n = n // 2
                    raw = raw_redis(n, size)
                    ours = measure(redis_client, store, n, size, "redis")
                    print(f"{'raw redis':<10} {size:>5} {raw['put']:>12,.0f} {raw['read']:>12,.0f} {'-':>12}")
                    print(f"{'redis':<10} {size:>5} {ours['put']:>12,.0f} {ours['read']:>12,.0f} {ours['e2e']:>12,.0f}")
                    print(
                        f"  podium/raw: put {ours['put'] / raw['put']:.2f}x, read {ours['read'] / raw['read']:.2f}x "
                        f"(target >= 0.5x); per client CPU-s: put {ours['put_cpu'] / raw['put_cpu']:.2f}x, "
                        f"read {ours['read_cpu'] / raw['read_cpu']:.2f}x"
                    )
            finally:
                import redis

                r = redis.Redis.from_url(REDIS_URL)
                keys = list(r.scan_iter(f"{prefix}:*"))
                if keys:
                    r.delete(*keys)
        import pyarrow.parquet  # noqa: F401  (import once, outside the timing)

        mb_s, rec_s = delivery_mb_s(embedded, store, str(work / "lake"), int(100_000 * scale))
        print(f"delivery stream -> parquet: {mb_s:.1f} MB/s ({rec_s:,.0f} records/s)")
        embedded.close()
    finally:
        store.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
