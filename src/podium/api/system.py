"""Routes about the server itself: health and version."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from podium import __version__
from podium.api.deps import AppContext, get_context

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness and metadata-store reachability (no token needed)")
def health(context: AppContext = Depends(get_context)) -> dict[str, object]:
    with context.store.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    return {"status": "ok", "metadata": context.store.dialect}


@router.get("/version", summary="Podium version")
def version() -> dict[str, str]:
    return {"version": __version__}
