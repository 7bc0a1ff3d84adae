"""A model worker process: loads one model version and serves /ping and /invocations.

Run as `python -m podium.serving.worker --artifact model.tar.gz --workdir DIR [--entry-point F]`.
It binds 127.0.0.1 on a free port and, on Linux, an abstract Unix socket for the router's frame
transport (podium.serving.frames), and prints `READY <port> [@<socket>]` once the model is
loaded, so the pool that started it knows where to send traffic. A bad model can crash only
this process.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import socket
import sys
import tarfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podium.serving.frames import printable, serve_frames, socket_name
from podium.serving.handlers import ClientInputError, load_handler


def extract(artifact: Path, target: Path) -> Path:
    """Unpack the model artifact into `target` once. Under a file lock: the fleets and workers of
    several router processes sharing PODIUM_HOME unpack into the same directory, and one must not
    rewrite files another's workers are loading."""
    target.mkdir(parents=True, exist_ok=True)
    marker = target / ".extracted"
    if marker.exists():
        return target
    with open(target / ".extract.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not marker.exists():
            with tarfile.open(artifact) as archive:
                archive.extractall(target, filter="data")
            marker.write_text(str(artifact))
    return target


def answer(handler: Any, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str, float]:
    """One invocation through the handler chain: (status, body, content type, model ms).
    The HTTP route and the router's frame transport both answer through this."""
    if accept == "*/*":
        accept = "application/json"
    started = time.perf_counter()
    try:
        # Inline, not on a thread: predictions are CPU-bound and hold the GIL, so a thread
        # adds a GIL hand-off (up to the 5 ms switch interval) per request and no parallelism.
        # One worker process serves one request at a time; capacity is InitialInstanceCount.
        payload, returned_type = handler(body, content_type, accept)
        if not isinstance(payload, bytes):
            payload = bytes(memoryview(payload))  # bytearray and the like; anything else is a TypeError
        returned_type.encode("latin-1")  # it becomes a header: a UnicodeEncodeError is the model's
    except ClientInputError as exc:
        return 400, _error_body(str(exc)), "application/json", 0.0
    except Exception as exc:  # the model's own failure: report it, keep serving
        traceback.print_exc(file=sys.stderr)
        return 500, _error_body(f"{type(exc).__name__}: {exc}"), "application/json", 0.0
    return 200, payload, returned_type, (time.perf_counter() - started) * 1000


def _error_body(message: str) -> bytes:
    return json.dumps({"code": "ModelError", "message": message}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def build_app(handler: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ping(_request: Request) -> Response:
        return Response(b"", status_code=200)

    async def invocations(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        status, payload, returned_type, model_ms = answer(
            handler, body, headers.get("content-type", "application/json"), headers.get("accept", "application/json"))
        if status != 200:
            return Response(payload, status_code=status, media_type=returned_type)
        return Response(payload, media_type=returned_type, headers={"x-model-latency-ms": f"{model_ms:.3f}"})

    return Starlette(routes=[Route("/ping", ping, methods=["GET"]),
                             Route("/invocations", invocations, methods=["POST"])])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--entry-point", type=Path, default=None)
    args = parser.parse_args(argv)

    import uvicorn

    model_dir = extract(args.artifact, args.workdir)
    handler = load_handler(model_dir, args.entry_point)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it, a reply written as headers then body waits
    # for the router's delayed ACK (Nagle): measured 44 ms per request instead of 0.6 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Keep-alive longer than the router's pool keeps idle connections, so the router, not the
    # worker, closes them (a connection closed under a request would cost a retry).
    from podium.serving.http import CoalescingHttpToolsProtocol

    config = uvicorn.Config(build_app(handler), log_level="warning", access_log=False, lifespan="off",
                            timeout_keep_alive=120, http=CoalescingHttpToolsProtocol)
    server = uvicorn.Server(config)
    _exit_with_parent(server)
    frames = socket_name(os.getpid())

    async def serve() -> None:
        listener = None
        if frames is not None:
            listener = await serve_frames(frames, lambda body, ctype, accept: answer(handler, body, ctype, accept))
        print(f"READY {port}" + (f" {printable(frames)}" if frames else ""), flush=True)
        try:
            await server.serve(sockets=[sock])
        finally:
            if listener is not None:
                listener.close()

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (a dependency where it builds), else asyncio's
    (None): as uvicorn's loop="auto" picks for `podium serve` and `podium server`."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _exit_with_parent(server: Any, every: float = 1.0, grace: float = 10.0) -> None:
    """Stop when the process that started this worker is gone (killed, or exited without
    stopping its workers): an orphaned model worker would hold memory and a port forever."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        server.should_exit = True  # finish in-flight requests, then stop
        time.sleep(grace)
        os._exit(0)

    threading.Thread(target=watch, name="podium-parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
