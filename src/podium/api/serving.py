"""HTTP routes for endpoints: configs, create/update (deploy)/describe/delete, invocations,
per-variant metrics, alarms.

`POST /endpoints/{name}/invocations` is answered by a bare ASGI route placed ahead of the FastAPI
routes: request parsing and dependency injection cost more than the router's own work, and this
path is the hot one. The FastAPI route of the same path stays for the OpenAPI schema.
`FastInvocations` goes further: wrapped around the whole app (as `podium serve` does), it
answers invocations before any middleware.

With the app's lifespan the endpoint service starts: it restarts the fleets of endpoints the
store says are serving and supervises their workers until the server stops.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.routing import Route

from podium.api.deps import AppContext, get_context
from podium.serving.router import payload_too_large


def service_for(context: AppContext) -> Any:
    service = context.services.get("endpoints")
    if service is None:
        from podium.serving import EndpointService

        service = context.services.setdefault("endpoints", EndpointService(context.settings, context.store))
    return service


def endpoint_service(context: AppContext = Depends(get_context)) -> Any:
    return service_for(context)


@asynccontextmanager
async def _serving_lifespan(app: FastAPI) -> AsyncIterator[None]:
    service = service_for(app.state.podium)
    service.start_supervisor()
    # Fleets start in the background so the API answers while model workers load.
    threading.Thread(target=service.restore, name="podium-endpoint-restore", daemon=True).start()
    yield
    await service.router.close()
    service.shutdown()


class InvocationsRoute:
    """InvokeEndpoint as a bare ASGI app (see the module docstring)."""

    def __init__(self, context: AppContext | None = None) -> None:
        self.context = context  # None: the app's, read from the scope

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.handle(scope["path_params"]["name"], scope, receive, send)

    async def handle(self, endpoint: str, scope: Any, receive: Any, send: Any) -> None:
        context = self.context or scope["app"].state.podium
        limit = context.settings.max_invocation_bytes
        chunks, size, more = [], 0, True
        while more:  # a body over the limit is read to its end (so the client reads the 413), not kept
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            more = message.get("more_body", False)
        if size > limit:
            status, content_type, body, extra = payload_too_large(limit)
        else:
            status, content_type, body, extra = await service_for(context).router.respond(
                endpoint, b"".join(chunks), scope["headers"])
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode()),
            *extra]})
        await send({"type": "http.response.body", "body": body})


_INVOCATIONS = re.compile(r"/endpoints/([^/]+)/invocations")


class FastInvocations:
    """Wraps the whole API app so invocations skip its middleware and routing too.

    Each `await` in the ASGI chain is resumed through every frame above it, so the depth of
    FastAPI's middleware and nested routers costs CPU on every request; outside them an
    invocation is one frame deep. The bearer token is checked here when one is configured;
    anything else (or a wrong token, which the app answers with 401) goes to the app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.route = InvocationsRoute(app.state.podium)
        token = app.state.podium.settings.api_token
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _INVOCATIONS.fullmatch(scope["path"])
            if match and (self.expected is None or hmac.compare_digest(
                    dict(scope["headers"]).get(b"authorization", b""), self.expected)):
                await self.route.handle(match.group(1), scope, receive, send)
                return
        await self.app(scope, receive, send)


router = APIRouter(tags=["serving"], lifespan=_serving_lifespan)
router.routes.append(Route("/endpoints/{name}/invocations", InvocationsRoute(), methods=["POST"]))


class EndpointConfigBody(BaseModel):
    EndpointConfigName: str
    ProductionVariants: list[dict[str, Any]] = Field(min_length=1)
    ShadowProductionVariants: list[dict[str, Any]] = Field(default_factory=list)
    DataCaptureConfig: dict[str, Any] | None = None


class CreateEndpointBody(BaseModel):
    EndpointName: str
    EndpointConfigName: str


class UpdateEndpointBody(BaseModel):
    EndpointConfigName: str
    DeploymentConfig: dict[str, Any] | None = None


@router.post("/endpoint-configs", status_code=201, summary="Create an endpoint config (CreateEndpointConfig)")
async def create_config(body: EndpointConfigBody, service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    result: dict[str, Any] = await run_in_threadpool(
        service.create_endpoint_config, body.EndpointConfigName, body.ProductionVariants,
        body.ShadowProductionVariants, body.DataCaptureConfig)
    return result


@router.post("/endpoints", status_code=201, summary="Create an endpoint and start its workers (CreateEndpoint)")
async def create_endpoint(body: CreateEndpointBody, service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    result: dict[str, Any] = await run_in_threadpool(service.create_endpoint, body.EndpointName,
                                                     body.EndpointConfigName)
    return result


@router.get("/endpoints", summary="List endpoints")
async def list_endpoints(service: Any = Depends(endpoint_service)) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await run_in_threadpool(service.list_endpoints)
    return result


@router.get("/endpoints/{name}", summary="Describe an endpoint, with its live traffic shares")
async def describe_endpoint(name: str, service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    result: dict[str, Any] = await run_in_threadpool(service.describe_endpoint, name)
    return result


@router.put("/endpoints/{name}", summary="Deploy a new config with a deployment policy (UpdateEndpoint)")
async def update_endpoint(name: str, body: UpdateEndpointBody,
                          service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    result: dict[str, Any] = await run_in_threadpool(service.update_endpoint, name, body.EndpointConfigName,
                                                     body.DeploymentConfig)
    return result


@router.get("/endpoints/{name}/deployments", summary="Deployment history with every traffic shift")
async def deployments(name: str, service: Any = Depends(endpoint_service)) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await run_in_threadpool(service.deployments, name)
    return result


@router.delete("/endpoints/{name}", status_code=204, summary="Drain and delete an endpoint")
async def delete_endpoint(name: str, service: Any = Depends(endpoint_service)) -> Response:
    await run_in_threadpool(service.delete_endpoint, name)
    return Response(status_code=204)


@router.post("/endpoints/{name}/invocations", summary="Invoke an endpoint (InvokeEndpoint)")
async def invoke(name: str, request: Request, service: Any = Depends(endpoint_service),
                 target_variant: str | None = Header(None, alias="X-Amzn-SageMaker-Target-Variant"),
                 target_variant_short: str | None = Header(None, alias="TargetVariant")) -> Response:
    reply = await service.router.invoke(
        name, await request.body(), request.headers.get("content-type", "application/json"),
        request.headers.get("accept", "application/json"), target_variant or target_variant_short,
    )
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type,
                    headers={"X-Invoked-Production-Variant": reply.variant or "",
                             "X-Podium-Endpoint-Config": reply.config_name or ""})


@router.get("/endpoints/{name}/metrics", summary="Per-variant traffic share, error rates and latency")
async def endpoint_metrics(name: str, window: float = Query(60.0, gt=0, le=3600, description="Seconds."),
                           service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    result: dict[str, Any] = await run_in_threadpool(service.metrics_summary, name, window)
    return result


@router.put("/alarms/{name}", summary="Create or replace a metric alarm (CloudWatch PutMetricAlarm)")
async def put_alarm(name: str, body: dict[str, Any], service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    from podium.metrics import alarm_from_aws, alarm_to_aws

    alarm = await run_in_threadpool(service.put_alarm, alarm_from_aws({**body, "AlarmName": name}))
    return alarm_to_aws(alarm)


@router.get("/alarms", summary="Alarms with their current state (CloudWatch DescribeAlarms)")
async def list_alarms(service: Any = Depends(endpoint_service)) -> list[dict[str, Any]]:
    from podium.metrics import alarm_to_aws

    return [alarm_to_aws(a) for a in await run_in_threadpool(service.list_alarms)]


@router.get("/alarms/{name}", summary="One alarm with its current state")
async def describe_alarm(name: str, service: Any = Depends(endpoint_service)) -> dict[str, Any]:
    from podium.metrics import alarm_to_aws

    return alarm_to_aws(await run_in_threadpool(service.describe_alarm, name))


@router.get("/alarms/{name}/history", summary="Every state the alarm entered (DescribeAlarmHistory)")
async def alarm_history(name: str, service: Any = Depends(endpoint_service)) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await run_in_threadpool(service.alarm_history, name)
    return result


@router.delete("/alarms/{name}", status_code=204, summary="Delete an alarm and its history")
async def delete_alarm(name: str, service: Any = Depends(endpoint_service)) -> Response:
    await run_in_threadpool(service.delete_alarm, name)
    return Response(status_code=204)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics of the router")
async def metrics(service: Any = Depends(endpoint_service)) -> str:
    text: str = service.router.prometheus()
    return text
