"""uvicorn's httptools protocol, sending each response in one write.

uvicorn writes a response's status line and headers, then its body, as two `transport.write`
calls, so two `send` syscalls and two segments on the wire. On loopback each segment wakes the
reader: it parses the headers, goes back to sleep, and is woken again for the body. For the
small replies of model invocations that doubles the wake-ups on both sides of every hop
(client ↔ router ↔ worker), which on a busy machine is where latency goes. This protocol
collects the writes made during one step of the event loop and sends them together at the end
of it. Used by the model workers and by `podium serve`.

`RouterHttpProtocol` extends it for `podium serve`: invocations are answered below ASGI.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from podium.serving.router import payload_too_large

DEFAULT_MAX_BODY = 6 * 1024 * 1024  # the max_invocation_bytes setting's default


class _CoalescingTransport:
    """Wraps a transport: writes made in one loop step go out as one `write` right after it.
    Closing (or write_eof) sends what is pending first; everything else is the transport's."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def write_now(self, data: bytes) -> None:
        """A whole response: sent at once, without waiting for the end of the loop step (one
        loop iteration less per reply), unless writes are pending, which it must follow."""
        if self._pending:
            self.write(data)
        elif not self._transport.is_closing():
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """`uvicorn.Config(app, http=CoalescingHttpToolsProtocol)`: one write per response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _CoalescingTransport(transport, self.loop)  # type: ignore[assignment]


# ---- the router's invocation fast path ----------------------------------------------------------
Invoke = Callable[[str, bytes, list[tuple[bytes, bytes]]],
                  Awaitable[tuple[int, str, bytes, list[tuple[bytes, bytes]]]]]
_INVOCATION_URL = re.compile(rb"/endpoints/([^/?%]+)/invocations(?:\?.*)?")
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_log = logging.getLogger("podium.serving")


class _InvocationCycle:
    """One invocation answered by `RouterHttpProtocol` itself: the attributes uvicorn's protocol
    reads and writes on its request cycle (body, more_body, keep_alive, disconnected,
    response_complete, message_event.set()), and the task that answers once the body is in."""

    __slots__ = ("body", "disconnected", "endpoint", "headers", "keep_alive", "launched", "message_event",
                 "more_body", "protocol", "response_complete", "started", "too_large")

    def __init__(self, protocol: RouterHttpProtocol, endpoint: str, headers: list[tuple[bytes, bytes]],
                 keep_alive: bool) -> None:
        self.protocol = protocol
        self.endpoint = endpoint
        self.headers = headers
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.more_body = True
        self.disconnected = False
        self.response_complete = False
        self.started = False  # its turn on the connection came (pipelined requests wait)
        self.launched = False
        self.too_large = False  # the body went over `max_body`: read on, discarded, answered 413
        self.message_event = self  # uvicorn calls message_event.set() on body, end and disconnect

    def set(self) -> None:
        if self.started and not self.more_body and not self.launched:
            self.launched = True
            if self.disconnected:
                self.response_complete = True
                return
            protocol = self.protocol
            task = protocol.loop.create_task(self.answer())
            task.add_done_callback(protocol.tasks.discard)
            protocol.tasks.add(task)

    async def answer(self) -> None:
        protocol = self.protocol
        try:
            if self.too_large:
                status, content_type, body, extra = payload_too_large(protocol.max_body)
            else:
                status, content_type, body, extra = await protocol.invoke(self.endpoint, bytes(self.body),
                                                                          self.headers)
        except Exception:  # a bug, not a model's failure (those are replies): as uvicorn does
            _log.exception("invocation of endpoint %r failed", self.endpoint)
            status, content_type, body, extra = 500, "text/plain; charset=utf-8", b"Internal Server Error", []
            self.keep_alive = False
        self.response_complete = True
        if self.disconnected:
            return
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"")),
                b"content-type: ", content_type.encode("latin-1"), b"\r\ncontent-length: %d\r\n" % len(body)]
        for name, value in (*protocol.server_state.default_headers, *extra):
            head += (name, b": ", value, b"\r\n")
        if not self.keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        transport: _CoalescingTransport = protocol.transport  # type: ignore[assignment]
        transport.write_now(b"".join(head) + body)
        if not self.keep_alive:
            transport.close()
        protocol.on_response_complete()


class RouterHttpProtocol(CoalescingHttpToolsProtocol):
    """`podium serve`'s HTTP protocol: `POST /endpoints/{name}/invocations` is answered here,
    below ASGI; every other request goes to the ASGI app as uvicorn sends it.

    uvicorn builds an ASGI scope, a request cycle with an event, a task running the app through
    its middleware, and validates each `send` message; for the router's hot path that was about
    as much CPU as routing the request. Here the request is parsed by the same httptools parser,
    keep-alive, pipelining, flow control and graceful shutdown stay uvicorn's, and the answer is
    one preformatted write. Made by `router_protocol`."""

    invoke: Invoke
    authorization: bytes | None = None  # the expected Authorization header, when a token is set
    max_body: int = DEFAULT_MAX_BODY  # a larger invocation body is answered 413 (and not kept)

    def on_headers_complete(self) -> None:
        match = _INVOCATION_URL.fullmatch(self.url)
        if (match is None or self.parser.get_method() != b"POST" or self.expect_100_continue
                or self.limit_concurrency is not None or self.parser.should_upgrade()
                or (self.authorization is not None and not hmac.compare_digest(
                    dict(self.headers).get(b"authorization", b""), self.authorization))):
            super().on_headers_complete()  # the app answers, 401 for a wrong token included
            return
        keep_alive = self.parser.get_http_version() == "1.1" and self.parser.should_keep_alive()
        existing = self.cycle
        self.cycle = _InvocationCycle(self, match.group(1).decode("latin-1"), self.headers,  # type: ignore[assignment]
                                      keep_alive)
        if existing is None or existing.response_complete:
            self._start_asgi_task(self.cycle, self.app)
        else:  # pipelined behind a request still being answered
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, self.app))

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if isinstance(cycle, _InvocationCycle):
            cycle.started = True
            cycle.set()
        else:
            super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if isinstance(cycle, _InvocationCycle):  # no backpressure: the whole body is needed
            if not cycle.response_complete and not cycle.too_large:
                if len(cycle.body) + len(body) > self.max_body:
                    cycle.too_large, cycle.body = True, bytearray()
                else:
                    cycle.body += body
            return
        super().on_body(body)


def router_protocol(invoke: Invoke, token: str | None = None,
                    max_body: int = DEFAULT_MAX_BODY) -> type[RouterHttpProtocol]:
    """`uvicorn.Config(app, http=router_protocol(invoke))`: invocations answered by
    `invoke(endpoint, body, headers) -> (status, content type, body, extra headers)`; a body over
    `max_body` bytes is read to its end without being kept and answered 413."""
    return type("RouterHttpProtocol", (RouterHttpProtocol,), {
        "invoke": staticmethod(invoke), "authorization": f"Bearer {token}".encode() if token else None,
        "max_body": max_body})
