"""The coalescing uvicorn protocol and the router's worker client, over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest
import uvicorn

from podium.serving.client import WorkerClient
from podium.serving.http import CoalescingHttpToolsProtocol, _CoalescingTransport


def test_writes_of_one_loop_step_go_out_together_and_close_flushes_first() -> None:
    async def scenario() -> tuple[bytes | None, bytes, bytes]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        wrapped = _CoalescingTransport(transport, loop)  # type: ignore[arg-type]
        wrapped.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        wrapped.write(b"ok")
        try:
            early: bytes | None = theirs.recv(1024)  # nothing sent yet within this step
        except BlockingIOError:
            early = None
        await asyncio.sleep(0)  # the step ends: one write of both parts
        await asyncio.sleep(0.05)
        together = theirs.recv(1024)
        wrapped.write(b"last words")
        wrapped.close()  # sends what is pending before closing
        await asyncio.sleep(0.05)
        last = theirs.recv(1024)
        theirs.close()
        return early, together, last

    early, together, last = asyncio.run(scenario())
    assert early is None
    assert together == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    assert last == b"last words"


async def _echo_app(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 201 if body else 400, "headers": [
        (b"content-type", b"application/x-echo"), (b"content-length", str(len(body)).encode()),
        (b"x-model-latency-ms", b"1.5")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def echo_server() -> Any:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(_echo_app, log_level="warning", access_log=False, lifespan="off",
                                           http=CoalescingHttpToolsProtocol))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(5)


def test_worker_client_keeps_connections_alive_and_reads_replies(echo_server: int) -> None:
    async def scenario() -> list[Any]:
        client = WorkerClient(timeout=10)
        results = []
        big = b"x" * 200_000  # larger than one write
        for body in (b"[[1, 2]]", big, b"again"):
            results.append(await client.post("127.0.0.1", echo_server, body, "application/json", "*/*"))
        pooled = sum(len(c) for c in client._idle.values())
        concurrent = await asyncio.gather(*(client.post("127.0.0.1", echo_server, str(i).encode(),
                                                        "text/csv", "*/*") for i in range(5)))
        client.close()
        return [results, pooled, concurrent]

    results, pooled, concurrent = asyncio.run(scenario())
    assert [(status, len(body), kind, ms) for status, body, kind, ms in results] == [
        (201, 8, "application/x-echo", 1.5), (201, 200_000, "application/x-echo", 1.5),
        (201, 5, "application/x-echo", 1.5)]
    assert pooled == 1  # three requests in a row over one kept-alive connection
    assert sorted(body for _, body, _, _ in concurrent) == [b"0", b"1", b"2", b"3", b"4"]


def test_worker_client_raises_connection_error_for_a_dead_port() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now

    async def scenario() -> None:
        await WorkerClient(timeout=5).post("127.0.0.1", port, b"[]", "application/json", "*/*")

    with pytest.raises(ConnectionError, match=str(port)):
        asyncio.run(scenario())
