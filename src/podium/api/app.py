"""Build the FastAPI application: routers, error bodies, optional bearer-token check."""

from __future__ import annotations

import hmac
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from podium import __version__
from podium.api.deps import AppContext
from podium.config import Settings
from podium.errors import PodiumError
from podium.store import Store, open_store

# Modules that define `router`. One line per capability.
ROUTERS: tuple[str, ...] = (
    "podium.api.system",
    "podium.api.serving",
    "podium.api.features",
    "podium.api.catalog",
    "podium.api.jobs",
    "podium.api.triggers",
    "podium.api.streams",
    "podium.api.workflows",
    "podium.api.executions",
)

# Reachable without the bearer token (a load balancer must be able to probe it).
OPEN_PATHS = frozenset({"/health"})


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The HTTP API over `settings`' metadata store (opened and migrated here unless given)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Long-lived services (endpoint workers, stream backends) stop with the server.
        for service in app.state.podium.services.values():
            stop = getattr(service, "shutdown", None)
            if callable(stop):
                stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Podium",
        version=__version__,
        description="Automated ML data pipelines: workflows, streams, features, models, endpoints.",
    )
    app.state.podium = AppContext(settings=settings, store=store or open_store(settings))
    for module in ROUTERS:
        app.include_router(importlib.import_module(module).router)

    @app.exception_handler(PodiumError)
    async def _podium_error(_request: Request, exc: PodiumError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content=exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'/'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={"code": "ValidationError", "message": "; ".join(problems)},
        )

    if settings.api_token:
        expected = f"Bearer {settings.api_token}".encode()

        @app.middleware("http")
        async def _require_token(request: Request, call_next):  # type: ignore[no-untyped-def]
            if request.url.path not in OPEN_PATHS:
                given = request.headers.get("authorization", "").encode()
                if not hmac.compare_digest(given, expected):
                    return JSONResponse(
                        status_code=401,
                        content={"code": "Unauthorized",
                                 "message": "missing or wrong bearer token (Authorization: Bearer <api_token>)"},
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            return await call_next(request)

    return app
