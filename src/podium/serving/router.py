"""The router: admits a request, picks fleet and variant, forwards it to a model worker,
retries on another worker if one died, and records per-variant metrics.

Requests go to workers as frames over one Unix socket connection per worker
(podium.serving.frames), or, for a worker without a frame socket or with `transport="http"`,
over keep-alive HTTP/1.1 connections (podium.serving.client). Clients are per event loop.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from podium.errors import NotFoundError, PodiumError, ValidationError
from podium.metrics.series import MetricStore, Recorder, dims
from podium.serving.capture import CaptureWriter
from podium.serving.client import WorkerClient
from podium.serving.frames import FrameClient
from podium.serving.routing import RoutingTable, ShadowRoute, choose

TRANSPORTS = ("frames", "http")
COUNTERS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ShadowInvocations",
            "ShadowErrors")
LATENCIES = ("ModelLatency", "OverheadLatency", "ShadowModelLatency", "ShadowPredictionDifference")
_REQUEST_METRICS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency")


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str
    variant: str | None = None
    config_name: str | None = None


def payload_too_large(limit: int) -> tuple[int, str, bytes, list[tuple[bytes, bytes]]]:
    """The answer to an invocation whose body is over `limit` bytes, as `Router.respond` answers."""
    message = (f"the invocation payload is larger than the limit of {limit} bytes "
               f"({limit / 1048576:g} MiB, setting max_invocation_bytes); send smaller requests")
    body = json.dumps({"code": "PayloadTooLarge", "message": message, "details": {"limit_bytes": limit}})
    return 413, "application/json", body.encode(), []


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, json.dumps({"code": code, "message": message}).encode(), "application/json")


class Router:
    """Routes invocations for every endpoint. Tables are swapped atomically by deployments."""

    def __init__(self, metrics: MetricStore | None = None, rng: random.Random | None = None,
                 timeout: float = 60.0, transport: str = "frames") -> None:
        if transport not in TRANSPORTS:
            raise ValidationError(f"Router transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        self.transport = transport
        self.metrics = metrics or MetricStore()
        self._tables: dict[str, RoutingTable] = {}
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self._timeout = timeout
        self._clients: dict[asyncio.AbstractEventLoop, WorkerClient] = {}
        self._frame_clients: dict[asyncio.AbstractEventLoop, FrameClient] = {}
        self._recorders: dict[tuple[str, str, str], Recorder] = {}
        self._captures: dict[str, CaptureWriter] = {}
        self._background: set[asyncio.Task[None]] = set()

    def set_table(self, table: RoutingTable) -> None:
        with self._lock:
            self._tables[table.endpoint] = table

    def remove(self, endpoint: str) -> None:
        with self._lock:
            self._tables.pop(endpoint, None)
            writer = self._captures.pop(endpoint, None)
        if writer is not None:
            writer.flush()

    def set_capture(self, endpoint: str, writer: CaptureWriter | None) -> None:
        with self._lock:
            previous = self._captures.pop(endpoint, None)
            if writer is not None:
                self._captures[endpoint] = writer
        if previous is not None and previous is not writer:
            previous.flush()

    def capture(self, endpoint: str) -> CaptureWriter | None:
        with self._lock:
            return self._captures.get(endpoint)

    def table(self, endpoint: str) -> RoutingTable:
        with self._lock:
            table = self._tables.get(endpoint)
        if table is None:
            raise NotFoundError(f"endpoint '{endpoint}' does not exist or is not in service")
        return table

    def _client(self) -> WorkerClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # Idle connections are closed by us (30 s) before the worker's keep-alive (120 s)
            # would, so a pooled connection is not reset under a request.
            client = self._clients[loop] = WorkerClient(self._timeout)
        return client

    def _post(self, worker: Any, body: bytes, content_type: str,
              accept: str) -> Coroutine[Any, Any, tuple[int, bytes, str, float]]:
        """Send one invocation to a worker: (status, body, content type, model ms)."""
        if worker.socket is not None and self.transport == "frames":
            loop = asyncio.get_running_loop()
            frames = self._frame_clients.get(loop)
            if frames is None:
                frames = self._frame_clients[loop] = FrameClient(self._timeout)
            return frames.post(worker.socket, body, content_type, accept)
        return self._client().post("127.0.0.1", worker.port, body, content_type, accept)

    async def invoke(self, endpoint: str, body: bytes, content_type: str, accept: str,
                     target_variant: str | None = None) -> Reply:
        admitted = time.perf_counter()
        table = self.table(endpoint)
        fleet_share, variant = choose(table, self._rng.random(), self._rng.random(), target_variant)
        fleet = variant.fleet
        tried: set[int] = set()
        retried: set[int] = set()
        rerouted = False
        reply: Reply | None = None
        model_ms = 0.0
        while reply is None:
            worker = fleet.pick(tried)
            if worker is None and fleet.stopped and not tried and not rerouted:
                rerouted = True
                # The fleet was stopped (a deployment finished) between admission and here,
                # before the request reached any worker: route it by the current table.
                table = self.table(endpoint)
                fleet_share, variant = choose(table, self._rng.random(), self._rng.random(), target_variant)
                if variant.fleet is not fleet:
                    fleet = variant.fleet
                    continue
            if worker is None:
                reply = _error(503, "ServiceUnavailable",
                               f"no healthy model worker for variant '{variant.name}' of endpoint "
                               f"'{endpoint}'; workers are being restarted, retry shortly")
                break
            tried.add(worker.port)  # pick() raised its in-flight count
            try:
                status, content, returned_type, model_ms = await self._post(worker, body, content_type, accept)
                reply = Reply(status, content, returned_type)
            except TimeoutError:
                reply = _error(504, "ModelTimeout", f"variant '{variant.name}' did not answer in time")
            except OSError:  # ConnectionError and the like
                # The connection failed before an answer. A dead worker is marked so (the
                # supervisor restarts it) and another is tried; a live one that dropped a pooled
                # connection gets one more try.
                if worker.process.poll() is not None:
                    worker.healthy = False
                elif worker.port not in retried:
                    retried.add(worker.port)
                    tried.discard(worker.port)
            finally:
                worker.in_flight -= 1
        reply.variant, reply.config_name = variant.name, fleet_share.config_name
        self._record(endpoint, fleet_share.config_name, variant.name, reply.status,
                     model_ms, (time.perf_counter() - admitted) * 1000)
        writer = self.capture(endpoint)
        if writer is not None:
            writer.offer(variant.name, body, content_type, reply.body, reply.content_type, reply.status)
        for shadow in fleet_share.shadows:
            if self._rng.random() < shadow.sampling:
                task = asyncio.create_task(self._shadow(endpoint, shadow, body, content_type, accept, reply))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return reply

    async def respond(self, endpoint: str, body: bytes,
                      headers: list[tuple[bytes, bytes]]) -> tuple[int, str, bytes, list[tuple[bytes, bytes]]]:
        """InvokeEndpoint from an HTTP request's lower-cased headers: (status, content type, body,
        extra response headers). Errors of the request itself (unknown endpoint or variant) are
        answered as the API answers them. Used by `podium.serving.http.RouterHttpProtocol`."""
        content_type = accept = "application/json"
        target = short_target = None
        for name, value in headers:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"x-amzn-sagemaker-target-variant":
                target = value.decode("latin-1")
            elif name == b"targetvariant":
                short_target = value.decode("latin-1")
        try:
            reply = await self.invoke(endpoint, body, content_type, accept, target or short_target)
        except PodiumError as exc:
            return exc.http_status, "application/json", json.dumps(exc.to_dict()).encode(), []
        return reply.status, reply.content_type, reply.body, [
            (b"x-invoked-production-variant", (reply.variant or "").encode()),
            (b"x-podium-endpoint-config", (reply.config_name or "").encode())]

    async def _shadow(self, endpoint: str, shadow: ShadowRoute, body: bytes, content_type: str,
                      accept: str, production: Reply) -> None:
        """Send a copy to the shadow variant; record its outcome and how it differs."""
        worker = shadow.fleet.pick()
        dimensions = dims(EndpointName=endpoint, VariantName=shadow.name)
        now = time.time()
        self.metrics.put("ShadowInvocations", 1, dimensions, now)
        if worker is None:
            self.metrics.put("ShadowErrors", 1, dimensions, now)
            return
        try:
            status, content, returned_type, model_ms = await self._post(worker, body, content_type, accept)
        except OSError:  # ConnectionError, TimeoutError and the like
            self.metrics.put("ShadowErrors", 1, dimensions, now)
            return
        finally:
            worker.in_flight -= 1
        self.metrics.put_many([
            ("ShadowErrors", 1 if status >= 500 else 0, dimensions),
            ("ShadowModelLatency", model_ms, dimensions),
        ], now)
        difference = _prediction_difference(production.body, content)
        if difference is not None:
            self.metrics.put("ShadowPredictionDifference", difference, dimensions, now)
        writer = self.capture(endpoint)
        if writer is not None:
            writer.offer(shadow.name, body, content_type, content, returned_type, status)

    def _record(self, endpoint: str, config: str, variant: str, status: int, model_ms: float,
                total_ms: float) -> None:
        key = (endpoint, variant, config)
        recorder = self._recorders.get(key)
        if recorder is None:
            # Recorded per endpoint config (blue or green) and variant; rolled up per endpoint,
            # per variant (across configs) and per endpoint config when read.
            recorder = self._recorders.setdefault(key, self.metrics.recorder(
                _REQUEST_METRICS, dims(EndpointName=endpoint, EndpointConfigName=config, VariantName=variant),
                rollups=(dims(EndpointName=endpoint), dims(EndpointName=endpoint, VariantName=variant),
                         dims(EndpointName=endpoint, EndpointConfigName=config))))
        recorder.record((1, 1 if 400 <= status < 500 else 0, 1 if status >= 500 else 0, model_ms,
                         max(0.0, total_ms - model_ms)))

    def prometheus(self) -> str:
        return self.metrics.prometheus(COUNTERS, LATENCIES)

    async def drain_shadows(self) -> None:
        """Wait for shadow copies still in flight (tests and shutdown)."""
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self) -> None:
        await self.drain_shadows()
        for writer in list(self._captures.values()):
            writer.flush()
        loop = asyncio.get_running_loop()
        for clients in (self._clients, self._frame_clients):
            client = clients.pop(loop, None)
            if client is not None:
                client.close()


def _prediction_difference(production: bytes, shadow: bytes) -> float | None:
    """Mean absolute difference of two `{"predictions": [numbers]}` bodies, when both are."""
    try:
        a: Any = json.loads(production)["predictions"]
        b: Any = json.loads(shadow)["predictions"]
    except (ValueError, KeyError, TypeError):
        return None
    if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b) or not a:
        return None
    try:
        return sum(abs(float(x) - float(y)) for x, y in zip(a, b, strict=True)) / len(a)
    except (TypeError, ValueError):
        return None
