"""HTTP routes of batch jobs: definitions, runs, bookmarks."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from podium.api.deps import AppContext, get_context

router = APIRouter(prefix="/jobs", tags=["jobs"])


class RunRequest(BaseModel):
    bookmark: Literal["enable", "disable", "pause"] | None = None
    bookmark_from: str | None = None
    bookmark_to: str | None = None


class BookmarkRequest(BaseModel):
    option: Literal["enable", "disable", "pause"] | None = None
    reset: bool = False
    rewind_to: str | None = None


@router.get("", summary="List batch jobs")
def jobs(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    from podium.ingest.batch.jobs import list_jobs

    return list_jobs(context.store)


@router.post("", summary="Create a job (replace=true updates it to a new version)", status_code=201)
def create(definition: dict[str, Any], replace: bool = False, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.ingest.batch.jobs import create_job, parse_job

    job = parse_job(definition)
    return {"name": job.name, "version": create_job(context.store, job, replace=replace)}


@router.get("/{name}", summary="A job's definition")
def show(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.ingest.batch.jobs import get_job

    job, version = get_job(context.store, name)
    return {"version": version, **job.to_dict()}


@router.post("/{name}/runs", summary="Run the job now and wait for it (StartJobRun + wait)")
async def run(name: str, body: RunRequest | None = None, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.ingest.batch.runner import run_job

    body = body or RunRequest()
    span = (body.bookmark_from, body.bookmark_to) if body.bookmark_from and body.bookmark_to else None
    result = await run_in_threadpool(
        run_job, context.settings, context.store, name, bookmark=body.bookmark, bookmark_range=span
    )
    return result.to_dict()


@router.get("/{name}/runs", summary="A job's runs, newest first")
def runs(name: str, limit: int = 50, context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    from podium.ingest.batch.runner import list_runs

    return list_runs(context.store, name, limit)


@router.post("/{name}/bookmark", summary="Set the bookmark option, reset it, or rewind it to a run")
def bookmark(name: str, body: BookmarkRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.ingest.batch import bookmarks
    from podium.ingest.batch.jobs import set_bookmark_option

    if body.option is not None:
        set_bookmark_option(context.store, name, body.option)
    if body.reset:
        bookmarks.reset(context.store, name)
    if body.rewind_to is not None:
        bookmarks.rewind(context.store, name, body.rewind_to)
    with context.store.connect() as conn:
        state = bookmarks.load_state(conn, name)
    return {"job": name, "head_run": state.head_run_id, "files_remembered": len(state.files), "version": state.version}
