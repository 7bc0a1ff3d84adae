"""The router ↔ model worker transport: length-prefixed frames over a Unix socket.

HTTP between the router and its workers cost more than the model for cheap models: the worker
parsed a request line and headers and ran an ASGI app per request, and each request was one
connection's turn, so at concurrency 8 every request was its own write, wake-up and read on
both sides. Here a request is a fixed header and three byte strings; requests to one worker share
one connection, tagged by id, so all those sent in one loop step go out in one write, and a
worker answers every whole frame of one read with one write. The worker still serves HTTP
(/ping for health checks, /invocations for direct calls); both run the same handler chain
(see `podium.serving.worker.answer`), so statuses and error bodies are the same either way.

Frames (little-endian):
- request:  id u32, body length u32, content-type length u16, accept length u16,
            then content type, accept and body;
- response: id u32, body length u32, status u16, content-type length u16, model ms f64,
            then content type and body.

Workers listen on an abstract Unix socket (Linux: no file to clean up, gone with the process);
elsewhere they announce none and the router speaks HTTP to them.

Errors on the router side are raised as `ConnectionError` (the connection failed or closed
before the answer) or `TimeoutError`, as `podium.serving.client` does.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

REQUEST = struct.Struct("<IIHH")
RESPONSE = struct.Struct("<IIHHd")
_IDS = 1 << 32

Reply = tuple[int, bytes, str, float]  # status, body, content type, model latency (ms)
Answer = Callable[[bytes, str, str], Reply]


def socket_name(pid: int) -> str | None:
    """An abstract Unix socket name for a worker (None where there are none: not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    return f"\0podium-worker-{pid}-{secrets.token_hex(6)}"


def printable(name: str) -> str:
    """How a socket name is written on the worker's READY line (`@` for the leading NUL)."""
    return "@" + name[1:] if name.startswith("\0") else name


def parse_printable(text: str) -> str:
    return "\0" + text[1:] if text.startswith("@") else text


# ---- worker side ------------------------------------------------------------------------------
class FrameServer(asyncio.Protocol):
    """One router connection to a worker: answers each whole request frame inline, in order;
    the answers to the frames of one read go back in one write."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.transport: Any = None
        self.buffer = bytearray()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        view, size, offset, out = memoryview(buffer), len(buffer), 0, []
        try:
            while size - offset >= REQUEST.size:
                ident, body_length, type_length, accept_length = REQUEST.unpack_from(buffer, offset)
                start = offset + REQUEST.size
                body_start = start + type_length + accept_length
                end = body_start + body_length
                if end > size:
                    break
                content_type = str(view[start:start + type_length], "latin-1")
                accept = str(view[start + type_length:body_start], "latin-1")
                status, payload, returned_type, model_ms = self.answer(bytes(view[body_start:end]),
                                                                       content_type, accept)
                encoded = returned_type.encode("latin-1")
                out.append(RESPONSE.pack(ident, len(payload), status, len(encoded), model_ms))
                out.append(encoded)
                out.append(payload)
                offset = end
        finally:
            view.release()
        if offset:
            del buffer[:offset]
        if out:
            self.transport.write(b"".join(out))


async def serve_frames(name: str, answer: Answer) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    return await loop.create_unix_server(lambda: FrameServer(answer), sock=_bound(name))


def _bound(name: str) -> socket.socket:
    """A listening Unix socket. Made here, not by the event loop from the name: uvloop's
    create_unix_server/create_unix_connection reject abstract names (EINVAL)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(name)
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _connected(loop: asyncio.AbstractEventLoop, name: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, name)
    except BaseException:
        sock.close()
        raise
    return sock


# ---- router side ------------------------------------------------------------------------------
class _Connection(asyncio.Protocol):
    """The router's connection to one worker. Requests in flight are kept by id, oldest first,
    with their deadline; one timer, at the oldest deadline, expires them (not a timer each)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Connection], None]) -> None:
        self.loop = loop
        self.on_lost = on_lost
        self.transport: Any = None
        self.buffer = bytearray()
        self.pending: dict[int, tuple[asyncio.Future[Reply], float]] = {}
        self.outgoing: list[bytes] = []
        self.closed = False
        self.next_id = 0
        self.expiry: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_lost(self)
        if self.expiry is not None:
            self.expiry.cancel()
        pending, self.pending = self.pending, {}
        for waiter, _ in pending.values():
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("model worker closed the connection before answering"))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        size, offset = len(buffer), 0
        while size - offset >= RESPONSE.size:
            ident, body_length, status, type_length, model_ms = RESPONSE.unpack_from(buffer, offset)
            start = offset + RESPONSE.size
            end = start + type_length + body_length
            if end > size:
                break
            entry = self.pending.pop(ident, None)
            if entry is not None and not entry[0].done():  # else: timed out or cancelled meanwhile
                entry[0].set_result((status, bytes(buffer[start + type_length:end]),
                                     buffer[start:start + type_length].decode("latin-1"), model_ms))
            offset = end
        if offset:
            del buffer[:offset]

    def send(self, body: bytes, content_type: str, accept: str,
             timeout: float) -> tuple[int, asyncio.Future[Reply]]:
        ident = self.next_id
        self.next_id = (ident + 1) % _IDS
        waiter: asyncio.Future[Reply] = self.loop.create_future()
        deadline = self.loop.time() + timeout
        self.pending[ident] = (waiter, deadline)
        if self.expiry is None:
            self.expiry = self.loop.call_at(deadline, self._expire)
        ctype, acc = content_type.encode("latin-1"), accept.encode("latin-1")
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(REQUEST.pack(ident, len(body), len(ctype), len(acc)) + ctype + acc)
        self.outgoing.append(body)
        return ident, waiter

    def _flush(self) -> None:
        outgoing, self.outgoing = self.outgoing, []
        if outgoing and not self.closed:
            self.transport.write(b"".join(outgoing))

    def _expire(self) -> None:
        """Fail the requests past their deadline (oldest first; a late answer is then dropped)
        and set the timer for the next oldest."""
        self.expiry = None
        now, expired = self.loop.time(), []
        for ident, (_, deadline) in self.pending.items():
            if deadline > now:
                break
            expired.append(ident)
        for ident in expired:
            waiter, _ = self.pending.pop(ident)
            if not waiter.done():
                waiter.set_exception(TimeoutError("model worker did not answer in time"))
        if self.pending and not self.closed:
            self.expiry = self.loop.call_at(next(iter(self.pending.values()))[1], self._expire)


class FrameClient:
    """Connections to model workers' frame sockets, for one event loop: one per worker, shared
    by every request to it."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._connections: dict[str, _Connection] = {}
        self._connecting: dict[str, asyncio.Future[_Connection]] = {}
        self._closed = False

    async def _connection(self, name: str) -> _Connection:
        connecting = self._connecting.get(name)
        if connecting is not None:
            return await asyncio.shield(connecting)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Connection] = loop.create_future()
        self._connecting[name] = future

        def lost(connection: _Connection) -> None:
            if self._connections.get(name) is connection:  # a dead worker's name is not used again
                del self._connections[name]

        try:
            _, connection = await loop.create_unix_connection(lambda: _Connection(loop, lost),
                                                              sock=await _connected(loop, name))
        except BaseException as exc:  # refused, or this request was cancelled: tell the others
            error = ConnectionRefusedError(f"cannot connect to model worker socket {printable(name)}: {exc!r}")
            future.set_exception(error)
            future.exception()  # retrieved: waiters, if any, get it from the shield
            if isinstance(exc, OSError):
                raise error from exc
            raise
        finally:
            self._connecting.pop(name, None)
        future.set_result(connection)
        self._connections[name] = connection
        return connection

    async def post(self, name: str, body: bytes, content_type: str, accept: str) -> Reply:
        """One invocation: (status, body, content type, the worker's model latency in ms)."""
        if self._closed:
            raise ConnectionError("the router's worker client is closed")
        connection = self._connections.get(name)
        if connection is None or connection.closed:
            connection = await self._connection(name)
        ident, waiter = connection.send(body, content_type, accept, self.timeout)
        try:
            return await waiter
        finally:
            connection.pending.pop(ident, None)  # still there if cancelled: a late answer is dropped

    def close(self) -> None:
        self._closed = True
        for connection in list(self._connections.values()):
            if connection.transport is not None:
                connection.transport.close()
        self._connections.clear()
