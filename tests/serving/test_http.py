"""The coalescing uvicorn protocol, the router's HTTP protocol and its worker client, over real
loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from podium.serving.client import WorkerClient
from podium.serving.http import CoalescingHttpToolsProtocol, _CoalescingTransport, router_protocol


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



def test_a_whole_reply_goes_out_at_once_behind_any_pending_write() -> None:
    async def scenario() -> tuple[bytes, bytes | None, bytes]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        wrapped = _CoalescingTransport(transport, loop)  # type: ignore[arg-type]
        wrapped.write_now(b"first")  # nothing pending: sent now, not at the end of this step
        now = theirs.recv(1024)
        wrapped.write(b"second ")
        wrapped.write_now(b"third")  # must not overtake "second "
        try:
            early: bytes | None = theirs.recv(1024)
        except BlockingIOError:
            early = None
        await asyncio.sleep(0.05)
        rest = theirs.recv(1024)
        wrapped.close()
        theirs.close()
        return now, early, rest

    now, early, rest = asyncio.run(scenario())
    assert now == b"first"
    assert early is None and rest == b"second third"


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


def _serve_in_thread(app: Any, http: Any) -> Iterator[int]:
    """Run uvicorn with `app` and protocol class `http` on a free loopback port in a thread;
    yields the port and stops the server afterwards."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off",
                                           http=http))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def echo_server() -> Iterator[int]:
    yield from _serve_in_thread(_echo_app, CoalescingHttpToolsProtocol)


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


# ---- the router's HTTP protocol: invocations below ASGI, the rest to the app ------------------
async def _app_answer(scope: Any, receive: Any, send: Any) -> None:
    """Stands for the API app: says it answered, and what it was asked."""
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    text = f"app {scope['method']} {scope['path']} {len(body)}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})


async def _invoke(endpoint: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> Any:
    if endpoint == "broken":
        raise RuntimeError("a bug in the router")
    if endpoint == "slow":
        await asyncio.sleep(0.2)
    found = dict(headers)
    reply = f"{endpoint} {len(body)} {found.get(b'content-type', b'').decode()}".encode()
    return 201, "text/x-invoked", reply, [(b"x-invoked-production-variant", b"Blue")]


@pytest.fixture
def router_server(request: Any) -> Iterator[int]:
    token = getattr(request, "param", None)
    limit = 400_000  # bytes of invocation body answered; over it, 413
    yield from _serve_in_thread(_app_answer, router_protocol(_invoke, token, limit))


def test_router_protocol_answers_invocations_and_passes_the_rest_on_one_connection(router_server: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{router_server}") as client:
        first = client.post("/endpoints/ep/invocations", content=b"[[1]]", headers={"content-type": "text/csv"})
        other = client.get("/endpoints/ep")
        big = client.post("/endpoints/ep/invocations?x=1", content=b"x" * 300_000)
        listed = client.post("/endpoints/ep/invocations/more", content=b"abc")
        quoted = client.post("/endpoints/e%70/invocations", content=b"abc")  # unquoting is the app's
        last = client.post("/endpoints/ep/invocations", content=b"")
        connections = len(client._transport._pool.connections)
    assert (first.status_code, first.text, first.headers["content-type"]) == (201, "ep 5 text/csv", "text/x-invoked")
    assert first.headers["x-invoked-production-variant"] == "Blue" and "date" in first.headers
    assert (other.status_code, other.text) == (200, "app GET /endpoints/ep 0")
    assert big.text.startswith("ep 300000 ")
    assert listed.text == "app POST /endpoints/ep/invocations/more 3"
    assert quoted.text == "app POST /endpoints/ep/invocations 3"
    assert last.text == "ep 0 " and connections == 1


def test_router_protocol_keeps_pipelined_replies_in_order(router_server: int) -> None:
    def request(path: str, body: bytes = b"") -> bytes:
        method = b"POST" if body or "invocations" in path else b"GET"
        return (method + b" " + path.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)

    with socket.create_connection(("127.0.0.1", router_server), timeout=5) as conn:
        conn.sendall(request("/endpoints/slow/invocations", b"abc") + request("/endpoints/ep/invocations", b"de")
                     + request("/health") + request("/endpoints/ep/invocations", b"f"))
        received, bodies = b"", []
        while len(bodies) < 4:
            chunk = conn.recv(65536)
            assert chunk, f"connection closed after {bodies}"
            received += chunk
            while b"\r\n\r\n" in received:  # take whole responses off the front
                head, rest = received.split(b"\r\n\r\n", 1)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                bodies.append(rest[:length])
                received = rest[length:]
    assert bodies == [b"slow 3 ", b"ep 2 ", b"app GET /health 0", b"ep 1 "]


def test_router_protocol_reports_a_failing_invoke_as_500_and_closes(router_server: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{router_server}") as client:
        reply = client.post("/endpoints/broken/invocations", content=b"x")
        after = client.post("/endpoints/ep/invocations", content=b"x")
    assert (reply.status_code, reply.text, reply.headers["connection"]) == (500, "Internal Server Error", "close")
    assert after.status_code == 201  # on a new connection


@pytest.mark.parametrize("router_server", ["s3cret"], indirect=True)
def test_router_protocol_leaves_requests_without_the_token_to_the_app(router_server: int) -> None:
    url = f"http://127.0.0.1:{router_server}/endpoints/ep/invocations"
    assert httpx.post(url, content=b"x").text == "app POST /endpoints/ep/invocations 1"
    assert httpx.post(url, content=b"x", headers={"authorization": "Bearer wrong"}).text.startswith("app ")
    assert httpx.post(url, content=b"x", headers={"authorization": "Bearer s3cret"}).text == "ep 1 "


def test_router_protocol_answers_413_over_the_size_limit_and_keeps_the_connection(router_server: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{router_server}") as client:
        at_limit = client.post("/endpoints/ep/invocations", content=b"x" * 400_000)
        over = client.post("/endpoints/ep/invocations", content=b"x" * 400_001)
        chunked = client.post("/endpoints/ep/invocations", content=iter([b"x" * 300_000, b"x" * 300_000]))
        after = client.post("/endpoints/ep/invocations", content=b"abc")
        connections = len(client._transport._pool.connections)
    assert at_limit.status_code == 201 and at_limit.text.startswith("ep 400000 ")
    for reply in (over, chunked):
        assert reply.status_code == 413 and reply.headers["content-type"] == "application/json"
        assert reply.json()["code"] == "PayloadTooLarge" and reply.json()["details"] == {"limit_bytes": 400_000}
        assert "limit of 400000 bytes" in reply.json()["message"] and "max_invocation_bytes" in reply.json()["message"]
    assert after.text == "ep 3 " and connections == 1  # the body was read off; the connection goes on
