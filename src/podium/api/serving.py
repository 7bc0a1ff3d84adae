"""HTTP routes for endpoints: configs, create/update (deploy)/describe/delete, invocations, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from podium.api.deps import AppContext, get_context

router = APIRouter(tags=["serving"])


def endpoint_service(context: AppContext = Depends(get_context)) -> Any:
    service = context.services.get("endpoints")
    if service is None:
        from podium.serving import EndpointService

        service = context.services.setdefault("endpoints", EndpointService(context.settings, context.store))
    return service


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
                    headers={"X-Invoked-Production-Variant": reply.variant or ""})


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics of the router")
async def metrics(service: Any = Depends(endpoint_service)) -> str:
    text: str = service.router.prometheus()
    return text
