"""The router ↔ worker frame transport: over real Unix sockets in-process, then with real model
worker processes (same answers as their HTTP route, a worker killed mid-request)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.config import Settings
from podium.models import ModelRegistry
from podium.serving import EndpointService, Router
from podium.serving.frames import (
    FrameClient,
    FrameServer,
    parse_printable,
    printable,
    serve_frames,
    socket_name,
)
from podium.serving.worker import event_loop_factory
from podium.store import Store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract Unix sockets")


def _echo(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str, float]:
    if body == b"fail":
        return 500, b'{"code":"ModelError"}', "application/json", 0.0
    return 200, body[::-1], f"{content_type}|{accept}", 1.25


class _CountingServer(FrameServer):
    reads: list[int] = []

    def data_received(self, data: bytes) -> None:
        before = len(_CountingServer.calls)
        super().data_received(data)
        answered = len(_CountingServer.calls) - before
        if answered:
            _CountingServer.reads.append(answered)

    calls: list[bytes] = []


def _counting_answer(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str, float]:
    _CountingServer.calls.append(body)
    return _echo(body, content_type, accept)


def test_names_round_trip_through_the_ready_line() -> None:
    name = socket_name(123)
    assert name is not None and name.startswith("\0podium-worker-123-")
    assert printable(name).startswith("@") and "\0" not in printable(name)
    assert parse_printable(printable(name)) == name


def test_requests_in_one_loop_step_share_one_write_and_are_answered_by_id() -> None:
    _CountingServer.reads, _CountingServer.calls = [], []

    async def scenario() -> list[Any]:
        loop = asyncio.get_running_loop()
        name = socket_name(os.getpid())
        assert name is not None
        server = await loop.create_unix_server(lambda: _CountingServer(_counting_answer), name)
        client = FrameClient(timeout=5)
        try:
            first = await client.post(name, b"abc", "text/csv", "application/json")
            big = os.urandom(300_000)  # more than one read on either side
            together = await asyncio.gather(
                *(client.post(name, str(i).encode() * (i + 1), "application/json", "*/*") for i in range(8)),
                client.post(name, b"fail", "application/json", "*/*"),
                client.post(name, big, "application/octet-stream", "*/*"))
            return [first, together, big, len(client._connections)]
        finally:
            client.close()
            server.close()

    first, together, big, connections = asyncio.run(scenario())
    assert first == (200, b"cba", "text/csv|application/json", 1.25)
    assert [reply[1] for reply in together[:8]] == [(str(i) * (i + 1)).encode() for i in range(8)]
    assert together[8] == (500, b'{"code":"ModelError"}', "application/json", 0.0)
    assert together[9][1] == big[::-1]
    assert connections == 1  # every request over the one connection
    # The nine small requests went out in one write and were answered from one read.
    assert _CountingServer.reads[1] >= 9, _CountingServer.reads



@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_frames_work_on_either_event_loop(loop: str) -> None:
    """Workers and `podium serve` run on uvloop when it is installed; its create_unix_server and
    create_unix_connection reject abstract socket names, so the frame sockets are made by hand."""
    factory = asyncio.new_event_loop if loop == "asyncio" else pytest.importorskip("uvloop").new_event_loop

    async def scenario() -> list[Any]:
        name = socket_name(os.getpid())
        assert name is not None
        server = await serve_frames(name, _echo)
        client = FrameClient(timeout=5)
        try:
            return list(await asyncio.gather(*(client.post(name, b"abc%d" % i, "text/csv", "*/*") for i in range(3))))
        finally:
            client.close()
            server.close()

    with asyncio.Runner(loop_factory=factory) as runner:
        replies = runner.run(scenario())
    assert replies == [(200, b"%dcba" % i, "text/csv|*/*", 1.25) for i in range(3)]


def test_worker_runs_on_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    assert event_loop_factory() is uvloop.new_event_loop
    monkeypatch.setitem(sys.modules, "uvloop", None)  # not installed: asyncio's loop
    assert event_loop_factory() is None


class _Silent(asyncio.Protocol):
    """A worker that reads requests and never answers, until told to close."""

    instances: list[_Silent] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        _Silent.instances.append(self)


def test_timeout_leaves_the_connection_usable_and_a_closed_connection_fails_fast() -> None:
    async def scenario() -> list[Any]:
        loop = asyncio.get_running_loop()
        name = socket_name(os.getpid())
        assert name is not None
        server = await loop.create_unix_server(_Silent, name)
        client = FrameClient(timeout=0.2)
        outcomes: list[Any] = []
        try:
            try:
                await client.post(name, b"x", "application/json", "*/*")
            except TimeoutError as exc:
                outcomes.append(exc)
            connection = client._connections[name]
            outcomes.append((connection.closed, len(connection.pending)))
            client.timeout = 30
            waiting = asyncio.ensure_future(client.post(name, b"y", "application/json", "*/*"))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            _Silent.instances[-1].transport.close()  # the worker goes away mid-request
            try:
                await waiting
            except ConnectionError as exc:
                outcomes.append((exc, time.monotonic() - started, name in client._connections))
            server.close()
            await server.wait_closed()
            try:
                await client.post(name, b"z", "application/json", "*/*")
            except ConnectionError as exc:
                outcomes.append(exc)
        finally:
            client.close()
        return outcomes

    timed_out, state, (reset, waited, kept), refused = asyncio.run(scenario())
    assert isinstance(timed_out, TimeoutError)
    assert state == (False, 0)  # not closed; the late answer would be dropped
    assert isinstance(reset, ConnectionResetError) and waited < 1
    assert not kept  # a closed connection is forgotten, not kept for a name never used again
    assert isinstance(refused, ConnectionRefusedError) and "@podium-worker-" in str(refused)


# ---- with real model worker processes ---------------------------------------------------------
@pytest.fixture
def service(settings: Settings, store: Store) -> Iterator[EndpointService]:
    svc = EndpointService(settings, store, Router(), drain_timeout=10)
    yield svc
    svc.shutdown()


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self, router: Router) -> None:
        self.run(router.close(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _endpoint(service: EndpointService, store: Store, artifact: Path, count: int) -> Any:
    registry = ModelRegistry(store)
    registry.create_group("slow", exist_ok=True)
    version = registry.register("slow", artifact_uri=str(artifact))["ModelPackage"]
    service.create_endpoint_config("cfg", [{"VariantName": "AllTraffic", "ModelVersion": version,
                                            "InitialInstanceCount": count}])
    service.create_endpoint("ep", "cfg")
    return service.router.table("ep").fleets[0].variants[0].fleet


def test_frames_and_http_give_the_same_answers(service: EndpointService, store: Store, slow_model: Path) -> None:
    fleet = _endpoint(service, store, slow_model, 1)
    worker = fleet.workers[0]
    assert worker.socket is not None and worker.socket.startswith("\0")
    loop = _Loop()
    try:
        for body, content_type in ((b"[[1.0, 0.0]]", "application/json"), (b"1.0,0.0\n", "text/csv"),
                                   (b"[[7.0, 7.0]]", "application/json"), (b"[[5.0, 5.0]]", "application/json"),
                                   (b"not json", "application/json"),
                                   (b"[[1.0]]", "application/xml")):
            service.router.transport = "frames"
            framed = loop.run(service.router.invoke("ep", body, content_type, "application/json"))
            service.router.transport = "http"
            over_http = loop.run(service.router.invoke("ep", body, content_type, "application/json"))
            direct = httpx.post(f"{worker.url}/invocations", content=body, headers={"content-type": content_type})
            assert (framed.status, framed.body, framed.content_type) == (
                over_http.status, over_http.body, over_http.content_type), body
            assert (framed.status, framed.body) == (direct.status_code, direct.content), body
        assert framed.status == 400 and "unsupported content type" in json.loads(framed.body)["message"]
        seven = loop.run(service.router.invoke("ep", b"[[7.0, 7.0]]", "application/json", "application/json"))
        assert seven.status == 500
        five = loop.run(service.router.invoke("ep", b"[[5.0, 5.0]]", "application/json", "application/json"))
        assert five.status == 500 and json.loads(five.body)["message"].startswith("TypeError")
        assert json.loads(seven.body) == {"code": "ModelError",
                                          "message": "ValueError: seven is not a number this model likes"}
    finally:
        service.router.transport = "frames"
        loop.close(service.router)


def test_worker_killed_mid_request_is_retried_on_another_or_fails_fast(
        service: EndpointService, store: Store, slow_model: Path) -> None:
    fleet = _endpoint(service, store, slow_model, 2)
    loop = _Loop()
    try:
        assert loop.run(service.router.invoke("ep", b"[[1.0, 0.0]]", "application/json", "*/*")).status == 200
        started = time.monotonic()
        slow = asyncio.run_coroutine_threadsafe(
            service.router.invoke("ep", b"[[9.0, 9.0]]", "application/json", "*/*"), loop.loop)
        deadline = time.monotonic() + 5
        while not any(w.in_flight for w in fleet.workers) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # the worker is inside predict_fn now
        [busy] = [w for w in fleet.workers if w.in_flight]
        os.killpg(busy.process.pid, signal.SIGKILL)
        reply = slow.result(20)
        # Retried on the other worker, which also takes 3 s: not a hang, not an error.
        assert reply.status == 200, reply.body
        assert time.monotonic() - started < 12
        assert not busy.alive()

        [other] = [w for w in fleet.workers if w is not busy]
        slow = asyncio.run_coroutine_threadsafe(
            service.router.invoke("ep", b"[[9.0, 9.0]]", "application/json", "*/*"), loop.loop)
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(other.process.pid, signal.SIGKILL)
        reply = slow.result(10)
        assert reply.status == 503 and time.monotonic() - started < 2
        assert "no healthy model worker" in json.loads(reply.body)["message"]
        other.process.wait(5)  # its sockets close a moment before it can be reaped
        assert service.supervise() == 2
        assert loop.run(service.router.invoke("ep", b"[[1.0, 0.0]]", "application/json", "*/*")).status == 200
    finally:
        loop.close(service.router)


def test_worker_still_announces_and_serves_http_alone(tmp_path: Path, slow_model: Path) -> None:
    worker = subprocess.Popen([sys.executable, "-m", "podium.serving.worker", "--artifact", str(slow_model),
                               "--workdir", str(tmp_path / "w")], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        ready = worker.stdout.readline().split()
        assert ready[0] == "READY" and ready[2].startswith("@podium-worker-")
        base = f"http://127.0.0.1:{ready[1]}"
        assert httpx.get(f"{base}/ping").status_code == 200
        assert httpx.post(f"{base}/invocations", content=b"[[1.0, 0.0]]",
                          headers={"content-type": "application/json"}).json()["predictions"][0] > 0.5
    finally:
        worker.terminate()
        worker.wait(10)
