"""Router overhead: requests/s and p50/p99 latency through the Podium router against calling the
same model worker directly, in the same run, with a scikit-learn model; then a canary
deployment under load, reporting failed requests.

The server (router + worker) runs in this process's uvicorn thread; the load comes from a
separate process. Run: .venv/bin/python bench/serving_bench.py [--seconds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn


def pack(folder: Path, sign: float) -> Path:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 8))
    y = (sign * X[:, 0] + X[:, 1] > 0).astype(int)
    folder.mkdir(parents=True)
    joblib.dump(RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(X, y),
                folder / "model.joblib")
    artifact = folder.parent / f"{folder.name}.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(folder / "model.joblib", arcname="model.joblib")
    return artifact


def load(url: str, seconds: float, concurrency: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    body = b"[[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]]"

    async def run() -> tuple[list[float], int, int]:
        latencies: list[float] = []
        failures = 0
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal failures
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    try:
                        response = await client.post(url, content=body, headers={"content-type": "application/json"})
                        ok = response.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    latencies.append((time.perf_counter() - start) * 1000)
                    failures += 0 if ok else 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, failures, len(latencies)

    queue.put(asyncio.run(run()))


def measure(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.Process(target=load, args=(url, seconds, concurrency, queue))
    process.start()
    latencies, failures, count = queue.get()
    process.join()
    ordered = sorted(latencies)
    return {"rps": count / seconds, "p50": statistics.median(ordered),
            "p99": ordered[int(0.99 * (len(ordered) - 1))], "failures": failures, "count": count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    from podium.api import create_app
    from podium.config import Settings
    from podium.store import open_store

    work = Path(tempfile.mkdtemp(prefix="podium-serving-bench-"))
    v1, v2 = pack(work / "m1", 1.0), pack(work / "m2", -1.0)
    settings = Settings.for_home(work / "home")
    store = open_store(settings)
    app = create_app(settings, store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    client = httpx.Client(base_url=base, timeout=120)
    for name, artifact in (("c1", v1), ("c2", v2)):
        client.post("/endpoint-configs", json={"EndpointConfigName": name, "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelDataUrl": str(artifact), "InitialInstanceCount": 1}]}).raise_for_status()
    client.post("/endpoints", json={"EndpointName": "bench", "EndpointConfigName": "c1"}).raise_for_status()
    service = app.state.podium.services["endpoints"]
    worker = service.router.table("bench").fleets[0].variants[0].fleet.workers[0]

    direct = measure(f"{worker.url}/invocations", args.seconds, args.concurrency)
    routed = measure(f"{base}/endpoints/bench/invocations", args.seconds, args.concurrency)
    print(f"concurrency {args.concurrency}, {args.seconds:g} s each, RandomForest(20 trees), one worker")
    print(f"  direct to worker : {direct['rps']:8.0f} req/s  p50 {direct['p50']:6.2f} ms  p99 {direct['p99']:6.2f} ms")
    print(f"  through router   : {routed['rps']:8.0f} req/s  p50 {routed['p50']:6.2f} ms  p99 {routed['p99']:6.2f} ms")
    print(f"  throughput ratio router/direct: {routed['rps'] / direct['rps']:.2f} (target >= 0.80)")
    print(f"  added latency: p50 {routed['p50'] - direct['p50']:+.2f} ms, p99 {routed['p99'] - direct['p99']:+.2f} ms "
          f"(target p99 <= 1 ms)")

    result: dict[str, dict[str, float]] = {}
    loader = threading.Thread(target=lambda: result.setdefault(
        "load", measure(f"{base}/endpoints/bench/invocations", args.seconds * 2, args.concurrency)))
    loader.start()
    time.sleep(0.5)
    client.put("/endpoints/bench", json={"EndpointConfigName": "c2", "DeploymentConfig": {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": 1, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20}}}}}
    ).raise_for_status()
    loader.join()
    outcome = "InProgress"
    for _ in range(600):
        outcome = client.get("/endpoints/bench/deployments").json()[-1]["outcome"]
        if outcome != "InProgress":
            break
        time.sleep(0.1)
    print(f"canary deployment under load: outcome {outcome}, {result['load']['count']:.0f} requests, "
          f"{result['load']['failures']:.0f} failed (target 0)")
    service.shutdown()
    server.should_exit = True


if __name__ == "__main__":
    main()
