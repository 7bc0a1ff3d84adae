"""HTTP routes for state machines: create, update, describe, list, delete, versions, aliases, start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from podium.api.deps import AppContext, get_context

if TYPE_CHECKING:
    from podium.engine import Engine

router = APIRouter(prefix="/workflows", tags=["workflows"])


def engine_of(context: AppContext) -> Engine:
    """The server's one Engine (its compiled-definition cache and function pool are shared)."""
    engine = context.services.get("engine")
    if engine is None:
        from podium.api.serving import service_for
        from podium.engine import Engine
        from podium.integrations import build_resources

        def resources() -> Any:
            # Endpoints that workflows deploy are the ones this server routes to.
            return build_resources(context.settings, context.store, endpoints=service_for(context))

        # setdefault: two first requests racing still end up sharing one engine.
        engine = context.services.setdefault("engine", Engine(context.settings, context.store, resources=resources))
    made: Engine = engine
    return made


class CreateWorkflow(BaseModel):
    name: str
    definition: dict[str, Any] | str
    type: str = "STANDARD"
    description: str = ""
    publish: bool = False


class UpdateWorkflow(BaseModel):
    definition: dict[str, Any] | str | None = None
    description: str | None = None
    publish: bool = False


class Publish(BaseModel):
    description: str = ""


class Route(BaseModel):
    version: int
    weight: int = Field(ge=0, le=100)


class SetAlias(BaseModel):
    routing: list[Route]
    description: str = ""


class StartExecution(BaseModel):
    input: Any = None
    name: str | None = None


@router.get("", summary="List state machines")
def list_workflows(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    return [info.to_dict() for info in engine_of(context).list_state_machines()]


@router.post("", status_code=201, summary="Create a state machine (definition validated first)")
def create_workflow(body: CreateWorkflow, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    info = engine_of(context).create_state_machine(
        body.name, body.definition, type=body.type, description=body.description, publish=body.publish
    )
    return info.to_dict()


@router.get("/{name}", summary="Describe a state machine (name, name:version or name:alias)")
def describe_workflow(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    engine = engine_of(context)
    view = engine.describe_state_machine(name).to_dict()
    view["versions"] = [v.version for v in engine.list_versions(name)]
    view["aliases"] = [a.to_dict() for a in engine.list_aliases(name)]
    return view


@router.patch("/{name}", summary="Update a state machine's definition or description")
def update_workflow(
    name: str, body: UpdateWorkflow, context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    info = engine_of(context).update_state_machine(
        name, definition=body.definition, description=body.description, publish=body.publish
    )
    return info.to_dict()


@router.delete("/{name}", status_code=204, summary="Delete a state machine, its versions and aliases")
def delete_workflow(name: str, context: AppContext = Depends(get_context)) -> None:
    engine_of(context).delete_state_machine(name)


@router.post("/{name}/versions", status_code=201, summary="Publish the current definition as a version")
def publish_version(
    name: str, body: Publish | None = None, context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return engine_of(context).publish_version(name, body.description if body else "").to_dict()


@router.get("/{name}/versions", summary="List versions, newest first")
def list_versions(name: str, context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    return [v.to_dict() for v in engine_of(context).list_versions(name)]


@router.put("/{name}/aliases/{alias}", summary="Create or move an alias (1-2 versions, weights sum to 100)")
def set_alias(
    name: str, alias: str, body: SetAlias, context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    from podium.errors import NotFoundError

    engine = engine_of(context)
    routing = [route.model_dump() for route in body.routing]
    try:
        engine.describe_alias(name, alias)
    except NotFoundError:
        return engine.create_alias(name, alias, routing, body.description).to_dict()
    return engine.update_alias(name, alias, routing, body.description).to_dict()


@router.delete("/{name}/aliases/{alias}", status_code=204, summary="Delete an alias")
def delete_alias(name: str, alias: str, context: AppContext = Depends(get_context)) -> None:
    engine_of(context).delete_alias(name, alias)


@router.post("/{name}/executions", status_code=201, summary="Start an execution (same name + input = same one)")
def start_execution(
    name: str, body: StartExecution, context: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return engine_of(context).start_execution(name, body.input, name=body.name).to_dict()
