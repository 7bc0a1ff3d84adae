"""Prediction traffic for the flagship's endpoint: real feature rows sent through the router
from a background event loop, so a canary deployment has requests to watch, and every reply
(time, status, endpoint config that served it) is kept for the traffic-shift plot."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from podium.serving import Router


class TrafficLoad:
    """Sends `records` (one per request, round robin) to `endpoint` until stopped."""

    def __init__(self, router: Router, endpoint: str, records: list[dict[str, Any]],
                 pause_seconds: float = 0.02) -> None:
        self.router, self.endpoint = router, endpoint
        self.bodies = [json.dumps({"instances": [r]}).encode() for r in records] or [b'{"instances": [{}]}']
        self.pause = pause_seconds
        self.replies: list[tuple[float, int, str | None]] = []  # (unix time, status, config)
        self.errors: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="demo-traffic", daemon=True)
        self.thread.start()
        self._stop = False
        self._future: Any = None

    def invoke(self, record: dict[str, Any]) -> tuple[int, Any, str | None]:
        """One request, waited for: (status, decoded body, endpoint config that served it)."""
        body = json.dumps({"instances": [record]}).encode()
        reply = asyncio.run_coroutine_threadsafe(
            self.router.invoke(self.endpoint, body, "application/json", "application/json"), self.loop
        ).result(30)
        try:
            decoded = json.loads(reply.body)
        except ValueError:
            decoded = reply.body.decode(errors="replace")
        return reply.status, decoded, reply.config_name

    async def _run(self, concurrency: int) -> None:
        async def one(offset: int) -> None:
            index = offset
            while not self._stop:
                body = self.bodies[index % len(self.bodies)]
                index += concurrency
                try:
                    reply = await self.router.invoke(self.endpoint, body, "application/json", "application/json")
                except Exception as exc:  # e.g. the endpoint is gone: count it as a failed request
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.replies.append((time.time(), 0, None))
                else:
                    self.replies.append((time.time(), reply.status, reply.config_name))
                    if reply.status != 200 and len(self.errors) < 20:
                        self.errors.append(f"{reply.status} from {reply.config_name}: {reply.body[:300]!r}")
                await asyncio.sleep(self.pause)

        await asyncio.gather(*(one(i) for i in range(concurrency)))

    def start(self, concurrency: int = 2) -> None:
        if self._future is None:
            self._future = asyncio.run_coroutine_threadsafe(self._run(concurrency), self.loop)

    def stop(self) -> None:
        self._stop = True
        if self._future is not None:
            try:
                self._future.result(30)
            finally:
                self._future = None

    def close(self) -> None:
        self.stop()
        asyncio.run_coroutine_threadsafe(self.router.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
