"""HTTP routes of the data catalog: tables, schema versions, crawl."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from podium.api.deps import AppContext, get_context

router = APIRouter(prefix="/catalog", tags=["catalog"])


class CrawlRequest(BaseModel):
    location: str
    name: str | None = None
    format: str | None = None


@router.get("/tables", summary="List catalog tables")
def tables(context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    from podium.catalog import list_tables

    return [t.to_dict() for t in list_tables(context.store)]


@router.get("/tables/{name}", summary="A table: location, format, partitions, current schema")
def table(name: str, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.catalog import get_table

    return get_table(context.store, name).to_dict()


@router.get("/tables/{name}/versions", summary="Every schema version of a table and what changed")
def table_versions(name: str, context: AppContext = Depends(get_context)) -> list[dict[str, Any]]:
    from podium.catalog import versions

    return [
        {"version": v.version, "columns": [c.to_dict() for c in v.columns], "partition_keys": list(v.partition_keys),
         "changes": v.changes, "files": v.files, "created_at": v.created_at.isoformat()}
        for v in versions(context.store, name)
    ]


@router.post("/crawl", summary="Crawl files into a table, recording a new schema version on change")
def crawl(body: CrawlRequest, context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from podium.catalog import crawl as run_crawl

    result = run_crawl(context.store, body.location, name=body.name, format=body.format)
    return {"table": result.table.to_dict(), "created": result.created, "files": result.files,
            "change": result.change.to_dict() if result.change else None}
