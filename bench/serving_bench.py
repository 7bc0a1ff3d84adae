"""Router overhead: requests/s and p50/p99 latency through the Podium router against calling the
same model worker directly, in the same run; then a canary deployment under load, reporting
failed requests.

Two models: a scikit-learn RandomForest (what the issue asks for) and a trivially cheap
DummyClassifier, where the router's own cost is not hidden behind the model's. Because the
machine may be shared, it also prints the CPU time the router process and the worker spend per
request, which load from other processes does not change much.

The server (API + router) runs in this process's uvicorn thread, the workers in their own
processes, and the load comes from a separate process. The same load generator drives both the
direct and the routed calls: by default a raw keep-alive HTTP/1.1 client on asyncio protocols
(~0.02 ms CPU per request), `--client aiohttp` for the one used up to session 3 (~0.1 ms). On
the 2-core machine the generator shares the cores with router and worker, so aiohttp's cost was
taken from the routed path (three processes) more than from the direct one (two): it is the
bench's own cost, not Podium's. Its CPU per request is printed as "load".
The router answers invocations as `podium serve` does (RouterHttpProtocol; `--asgi`: through
FastInvocations) and reaches the worker over frames (`--transport http|both` for HTTP).
Run: .venv/bin/python bench/serving_bench.py [--seconds 5] [--concurrency 8] [--repeat 3]
     [--transport frames|http|both] [--asgi] [--pin] [--client raw|aiohttp] [--models dummy|forest|both]
Before/after: PYTHONPATH=<an older checkout>/src .venv/bin/python bench/serving_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import re
import socket
import statistics
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

BODY = b"[[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]]"


def pack(folder: Path, sign: float, kind: str) -> Path:
    import joblib
    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 8))
    y = (sign * X[:, 0] + X[:, 1] > 0).astype(int)
    model: Any = (RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0) if kind == "forest"
                  else DummyClassifier(strategy="prior"))
    folder.mkdir(parents=True)
    joblib.dump(model.fit(X, y), folder / "model.joblib")
    artifact = folder.parent / f"{folder.name}.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(folder / "model.joblib", arcname="model.joblib")
    return artifact


def load(url: str, seconds: float, concurrency: int, queue: multiprocessing.Queue,  # type: ignore[type-arg]
         client: str = "raw") -> None:
    """Closed-loop load: `concurrency` keep-alive connections, each sending its next request as
    soon as the last is answered, for `seconds`. Puts (latencies ms, failures, count, CPU s)."""
    run = _load_aiohttp if client == "aiohttp" else _load_raw
    cpu = time.process_time()
    latencies, failures = asyncio.run(run(url, seconds, concurrency))
    queue.put((latencies, failures, len(latencies), time.process_time() - cpu))


async def _load_aiohttp(url: str, seconds: float, concurrency: int) -> tuple[list[float], int]:
    import aiohttp

    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    async with client.post(url, data=BODY, headers={"content-type": "application/json"}) as r:
                        await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - start) * 1000)
                failures += 0 if ok else 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class _RawClient(asyncio.Protocol):
    """One keep-alive connection of the raw load generator: a preformatted request written, the
    reply read up to its content-length, the next request written from the same callback."""

    def __init__(self, request: bytes, deadline: float, latencies: list[float], done: asyncio.Future[int]) -> None:
        self.request, self.deadline, self.latencies, self.done = request, deadline, latencies, done
        self.buffer = bytearray()
        self.failures = 0
        self.transport: Any = None
        self.started = 0.0
        self.waiting = False  # a request written, its reply not yet read

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.started = time.perf_counter()
        self.waiting = True
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        match = _CONTENT_LENGTH.search(buffer, 0, head_end + 2)
        if match is None:
            raise RuntimeError(f"reply without content-length: {bytes(buffer[:head_end])!r}")
        end = head_end + 4 + int(match.group(1))
        if len(buffer) < end:
            return
        now = time.perf_counter()
        self.latencies.append((now - self.started) * 1000)
        if buffer[9:12] != b"200":
            self.failures += 1
        del buffer[:end]
        self.waiting = now < self.deadline
        if self.waiting:
            self.started = now
            self.transport.write(self.request)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting:  # closed before the reply
            self.failures += 1
        if not self.done.done():
            self.done.set_result(self.failures)


async def _load_raw(url: str, seconds: float, concurrency: int) -> tuple[list[float], int]:
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    request = (f"POST {address.path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
               f"content-length: {len(BODY)}\r\n\r\n").encode() + BODY
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    finished = []
    for _ in range(concurrency):
        done: asyncio.Future[int] = loop.create_future()
        await loop.create_connection(lambda done=done: _RawClient(request, deadline, latencies, done),  # type: ignore[misc]
                                     host, port)
        finished.append(done)
    return latencies, sum(await asyncio.gather(*finished))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def switches(pid: int) -> int:
    """Context switches (voluntary and not) of every thread of a process, from /proc."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in text.splitlines() if "ctxt_switches:" in line)
    return total


def measure(url: str, seconds: float, concurrency: int, worker_pid: int | None = None,
            pin: tuple[set[int], set[int]] | None = None, client: str = "raw") -> dict[str, float]:
    """Load from a separate process; CPU time and context switches per request of this process
    (the router) and, when given, of the worker (not across a deployment, which replaces it).
    `pin`: CPUs for the load process and for the worker (see --pin)."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.Process(target=load, args=(url, seconds, concurrency, queue, client))
    router_cpu, router_sw = cpu_seconds(os.getpid()), switches(os.getpid())
    worker_cpu = cpu_seconds(worker_pid) if worker_pid else 0.0
    worker_sw = switches(worker_pid) if worker_pid else 0
    process.start()
    if pin and process.pid is not None:
        os.sched_setaffinity(process.pid, pin[0])
        if worker_pid:
            os.sched_setaffinity(worker_pid, pin[1])
    latencies, failures, count, load_cpu = queue.get()
    router_cpu, router_sw = cpu_seconds(os.getpid()) - router_cpu, switches(os.getpid()) - router_sw
    worker_cpu = cpu_seconds(worker_pid) - worker_cpu if worker_pid else 0.0
    worker_sw = switches(worker_pid) - worker_sw if worker_pid else 0
    process.join()
    ordered = sorted(latencies)
    n = max(1, count)
    return {"rps": count / seconds, "p50": statistics.median(ordered),
            "p99": ordered[int(0.99 * (len(ordered) - 1))], "failures": failures, "count": count,
            "router_cpu_ms": router_cpu * 1000 / n, "worker_cpu_ms": worker_cpu * 1000 / n,
            "load_cpu_ms": load_cpu * 1000 / n,
            "router_switches": router_sw / n, "worker_switches": worker_sw / n}


def line(label: str, m: dict[str, float]) -> str:
    failed = f"  {m['failures']:.0f} FAILED" if m["failures"] else ""
    return (f"  {label:17}: {m['rps']:7.0f} req/s{failed}  p50 {m['p50']:6.2f} ms  p99 {m['p99']:6.2f} ms  "
            f"CPU/req router {m['router_cpu_ms']:.3f} ms, worker {m['worker_cpu_ms']:.3f} ms, "
            f"load {m['load_cpu_ms']:.3f} ms; "
            f"switches/req router {m['router_switches']:.1f}, worker {m['worker_switches']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pin", action="store_true",
                        help="Pin the router and the load process to CPU 0 and the model worker to CPU 1 "
                             "(direct calls too), so the worker has a core of its own in both cases.")
    parser.add_argument("--transport", choices=("frames", "http", "both"), default="frames",
                        help="Router to worker transport (podium.serving.frames, or HTTP/1.1); "
                             "both: measure each, alternating.")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds of direct/routed pairs.")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="Load generator, the same for direct and routed calls: raw (keep-alive HTTP/1.1 "
                             "on asyncio protocols, about a fifth of aiohttp's CPU per request) or aiohttp "
                             "(as before session 4).")
    parser.add_argument("--models", choices=("dummy", "forest", "both"), default="both",
                        help="Which models to measure; the canary deployment runs only with the forest.")
    parser.add_argument("--asgi", action="store_true",
                        help="Answer invocations through ASGI (FastInvocations) instead of the router's "
                             "HTTP protocol (podium.serving.http.RouterHttpProtocol), as before session 3.")
    args = parser.parse_args()
    pin = None
    if args.pin:
        os.sched_setaffinity(0, {0})  # this thread; the server thread and the workers inherit it
        pin = ({0}, {1})
    print(f"load average at start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")

    from podium.api import create_app
    from podium.api.serving import FastInvocations
    from podium.config import Settings
    from podium.store import open_store

    work = Path(tempfile.mkdtemp(prefix="podium-serving-bench-"))
    settings = Settings.for_home(work / "home")
    store = open_store(settings)
    app = create_app(settings, store)
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvicorn's own sockets have it
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # As `podium serve` runs it: invocations answered ahead of the app's middleware and routing,
    # each response in one write.
    protocol: dict[str, Any] = {}
    try:
        from podium.serving.http import CoalescingHttpToolsProtocol
        protocol = {"http": CoalescingHttpToolsProtocol}
        if not args.asgi:
            from podium.api.serving import service_for
            from podium.serving.http import router_protocol

            context = app.state.podium
            protocol = {"http": router_protocol(lambda endpoint, body, headers: service_for(
                context).router.respond(endpoint, body, headers))}
    except ImportError:  # an older checkout, for before/after figures
        pass
    server = uvicorn.Server(uvicorn.Config(FastInvocations(app), log_level="warning", access_log=False,
                                           **protocol))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    client = httpx.Client(base_url=base, timeout=120)
    router = app.state.podium.services["endpoints"].router if "endpoints" in app.state.podium.services else None
    transports = ("frames", "http") if args.transport == "both" else (args.transport,)
    if router is None or not hasattr(router, "transport"):  # an older checkout
        transports = ("http",)
    print(f"concurrency {args.concurrency}, {args.seconds:g} s each, one worker per endpoint, "
          f"transport {'/'.join(transports)}, "
          f"{protocol['http'].__name__ if protocol else 'uvicorn httptools'}, "
          f"load generator {args.client}, event loop {'uvloop' if importlib.util.find_spec('uvloop') else 'asyncio'} (router)")
    models = (("dummy", "DummyClassifier (trivially cheap)"), ("forest", "RandomForest(20 trees)"))
    for kind, label in (m for m in models if args.models in (m[0], "both")):
        for name, sign in ((f"{kind}-1", 1.0), (f"{kind}-2", -1.0)):
            artifact = pack(work / name, sign, kind)
            client.post("/endpoint-configs", json={"EndpointConfigName": name, "ProductionVariants": [
                {"VariantName": "AllTraffic", "ModelDataUrl": str(artifact)}]}).raise_for_status()
        client.post("/endpoints", json={"EndpointName": kind, "EndpointConfigName": f"{kind}-1"}).raise_for_status()
        service = app.state.podium.services["endpoints"]
        worker = service.router.table(kind).fleets[0].variants[0].fleet.workers[0]
        print(label)
        # Direct and routed alternate (`--repeat` rounds), so a change in the machine's load
        # from other processes hits both sides of a pair alike; medians over the rounds.
        concurrencies = (args.concurrency, 1) if kind == "dummy" else (args.concurrency,)
        pairs: dict[tuple[int, str], list[tuple[dict[str, float], dict[str, float]]]] = {}
        for _ in range(args.repeat):
            for concurrency in concurrencies:
                direct = measure(f"{worker.url}/invocations", args.seconds, concurrency, worker.process.pid, pin,
                                 args.client)
                print(line(f"direct, conc. {concurrency}", direct))
                for transport in transports:
                    if router is not None and hasattr(router, "transport"):
                        router.transport = transport
                    routed = measure(f"{base}/endpoints/{kind}/invocations", args.seconds, concurrency,
                                     worker.process.pid, pin, args.client)
                    print(line(f"{transport}, conc. {concurrency}", routed))
                    pairs.setdefault((concurrency, transport), []).append((direct, routed))
        if router is not None and hasattr(router, "transport"):
            router.transport = transports[0]  # the canary below runs on the first transport
        for (concurrency, transport), measured in pairs.items():
            ratio = statistics.median(r["rps"] / d["rps"] for d, r in measured)
            p50 = statistics.median(r["p50"] - d["p50"] for d, r in measured)
            p99 = statistics.median(r["p99"] - d["p99"] for d, r in measured)
            cpu = statistics.median(r["router_cpu_ms"] for _, r in measured)
            worker_cpu = statistics.median(r["worker_cpu_ms"] for _, r in measured)
            direct_cpu = statistics.median(d["worker_cpu_ms"] for d, _ in measured)
            load_cpu = statistics.median(r["load_cpu_ms"] for _, r in measured)
            failed = sum(d["failures"] + r["failures"] for d, r in measured)
            direct_load = statistics.median(d["load_cpu_ms"] for d, _ in measured)
            print(f"  SUMMARY {kind} {transport} conc {concurrency}: throughput ratio router/direct {ratio:.2f} "
                  f"(target >= 0.80); added p50 {p50:+.2f} ms, p99 {p99:+.2f} ms (target p99 <= 1 ms); "
                  f"CPU/req router {cpu:.3f} ms, worker {worker_cpu:.3f} ms (direct {direct_cpu:.3f} ms), "
                  f"load {load_cpu:.3f} ms (direct {direct_load:.3f} ms); "
                  f"{len(measured)} rounds" + (f"; {failed:.0f} FAILED" if failed else ""))
        overhead = service.router.metrics.statistic("OverheadLatency", (("EndpointName", kind),), "p99", 3600)
        print(f"  router overhead p99 as the router measures it (admission to reply): {overhead:.2f} ms")

    if args.models != "dummy":
        canary(client, base, args.seconds, args.concurrency, args.client)
    print(f"load average at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    server.should_exit = True
    time.sleep(0.5)
    service.shutdown()


def canary(api: httpx.Client, base: str, seconds: float, concurrency: int, client: str) -> None:
    """A canary deployment of the forest endpoint under load: failed requests (target 0)."""
    result: dict[str, dict[str, float]] = {}
    loader = threading.Thread(target=lambda: result.setdefault(
        "load", measure(f"{base}/endpoints/forest/invocations", seconds * 2, concurrency, client=client)))
    loader.start()
    time.sleep(0.5)
    api.put("/endpoints/forest", json={"EndpointConfigName": "forest-2", "DeploymentConfig": {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": 1, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20}}}}}
    ).raise_for_status()
    loader.join()
    outcome = "InProgress"
    for _ in range(600):
        outcome = api.get("/endpoints/forest/deployments").json()[-1]["outcome"]
        if outcome != "InProgress":
            break
        time.sleep(0.1)
    print(f"canary deployment under load: outcome {outcome}, {result['load']['count']:.0f} requests, "
          f"{result['load']['failures']:.0f} failed (target 0)")


if __name__ == "__main__":
    main()
