"""HTTP routes for executions: list, describe, stop, redrive, history, and task-token callbacks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from podium.api.deps import AppContext, get_context
from podium.api.workflows import engine_of

router = APIRouter(prefix="/executions", tags=["executions"])


class Stop(BaseModel):
    error: str | None = None
    cause: str | None = None


class TaskSuccess(BaseModel):
    token: str
    output: Any = None


class TaskFailure(BaseModel):
    token: str
    error: str | None = None
    cause: str | None = None


class TaskHeartbeat(BaseModel):
    token: str


@router.get("", summary="List executions, newest first")
def list_executions(
    state_machine: str | None = None,
    status: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    next_token: str | None = None,
    context: AppContext = Depends(get_context),
) -> dict[str, Any]:
    page = engine_of(context).list_executions(
        state_machine, status=status, limit=limit, next_token=next_token
    )
    return {"executions": [item.to_dict() for item in page.items], "next_token": page.next_token}


@router.post("/task-success", summary="SendTaskSuccess: complete a .waitForTaskToken task")
def task_success(body: TaskSuccess, context: AppContext = Depends(get_context)) -> dict[str, str]:
    engine_of(context).send_task_success(body.token, body.output)
    return {"status": "ok"}


@router.post("/task-failure", summary="SendTaskFailure: fail a .waitForTaskToken task")
def task_failure(body: TaskFailure, context: AppContext = Depends(get_context)) -> dict[str, str]:
    engine_of(context).send_task_failure(body.token, body.error, body.cause)
    return {"status": "ok"}


@router.post("/task-heartbeat", summary="SendTaskHeartbeat: restart a task's HeartbeatSeconds clock")
def task_heartbeat(body: TaskHeartbeat, context: AppContext = Depends(get_context)) -> dict[str, str]:
    engine_of(context).send_task_heartbeat(body.token)
    return {"status": "ok"}


@router.get("/{arn}", summary="Describe an execution")
def describe_execution(arn: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return engine_of(context).describe_execution(arn).to_dict()


@router.get("/{arn}/history", summary="History events (reverse=true for newest first)")
def history(
    arn: str,
    reverse: bool = False,
    limit: int = Query(100, ge=1, le=1000),
    next_token: str | None = None,
    context: AppContext = Depends(get_context),
) -> dict[str, Any]:
    page = engine_of(context).get_execution_history(
        arn, reverse=reverse, limit=limit, next_token=next_token
    )
    return {"events": [event.to_dict() for event in page.items], "next_token": page.next_token}


@router.post("/{arn}/stop", summary="Stop a running execution (ABORTED)")
def stop(arn: str, body: Stop | None = None, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    body = body or Stop()
    return engine_of(context).stop_execution(arn, error=body.error, cause=body.cause).to_dict()


@router.post("/{arn}/redrive", summary="Redrive a FAILED, TIMED_OUT or ABORTED execution")
def redrive(arn: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return engine_of(context).redrive_execution(arn).to_dict()
