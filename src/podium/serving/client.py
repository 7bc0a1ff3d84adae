"""The router's HTTP/1.1 client to its model workers: keep-alive connections, one request at
a time each, responses parsed by httptools (the parser uvicorn uses).

It speaks only what the router needs — `POST /invocations` with a body of known length to a
worker on 127.0.0.1 — so a request is one `write` of preformatted bytes and a response is read
straight into (status, body, content type, model latency). aiohttp did the same job with about
twice the CPU per request (its request/response objects, header multidicts, tracing hooks and
timeouts), which was most of the router's own cost (figures in bench/README.md).

Errors are raised as `ConnectionError` (the connection failed or closed before a whole answer)
or `TimeoutError`, so the router can tell a dead worker from a slow one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httptools

IDLE_SECONDS = 30.0  # close pooled connections idle this long (workers keep them 120 s)


class _Connection(asyncio.Protocol):
    __slots__ = ("body", "closed", "content_type", "idle_since", "keep_alive", "model_ms", "parser",
                 "transport", "waiter")

    def __init__(self) -> None:
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.body: list[bytes] = []
        self.content_type = "application/octet-stream"
        self.model_ms = 0.0
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0

    # ---- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad HTTP response from model worker: {exc}"))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionResetError("model worker closed the connection before answering"))

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    # ---- httptools callbacks ------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-type":
            self.content_type = value.decode("latin-1")
        elif lowered == b"x-model-latency-ms":
            try:
                self.model_ms = float(value)
            except ValueError:
                self.model_ms = 0.0

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self.parser.get_status_code())

    # ---- one request --------------------------------------------------------------------
    def send(self, head: bytes, body: bytes) -> asyncio.Future[int]:
        self.body = []
        self.content_type = "application/octet-stream"
        self.model_ms = 0.0
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)
        return self.waiter


class WorkerClient:
    """Keep-alive connection pools to model workers, for one event loop."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._closed = False

    async def _acquire(self, host: str, port: int) -> _Connection:
        idle = self._idle.get((host, port))
        if idle:
            now = time.monotonic()
            while idle:
                connection = idle.pop()
                if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                    return connection
                connection.transport.close()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(_Connection, host, port)
        except OSError as exc:
            raise ConnectionRefusedError(f"cannot connect to model worker {host}:{port}: {exc}") from exc
        return connection

    async def post(self, host: str, port: int, body: bytes, content_type: str,
                   accept: str) -> tuple[int, bytes, str, float]:
        """POST /invocations: (status, body, content type, the worker's model latency in ms)."""
        if self._closed:
            raise ConnectionError("the router's worker client is closed")
        connection = await self._acquire(host, port)
        head = (f"POST /invocations HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: {content_type}\r\n"
                f"accept: {accept}\r\ncontent-length: {len(body)}\r\n\r\n").encode("latin-1")
        waiter = connection.send(head, body)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout, _expire, waiter)
        done = False
        try:
            status = await waiter
            done = True
            return status, b"".join(connection.body), connection.content_type, connection.model_ms
        finally:
            timer.cancel()
            connection.waiter = None
            if done and connection.keep_alive and not connection.closed and not self._closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault((host, port), []).append(connection)
            else:  # failed, timed out, cancelled or not keep-alive: its state is unknown
                connection.transport.close()

    def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.transport.close()
        self._idle.clear()


def _expire(waiter: asyncio.Future[int]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("model worker did not answer in time"))
