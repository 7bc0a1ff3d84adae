"""HTTP routes of the feature store: online record reads and writes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from podium.api.deps import AppContext, get_context

router = APIRouter(prefix="/features", tags=["features"])


def _feature_store(context: AppContext):  # type: ignore[no-untyped-def]
    # One FeatureStore per server: it keeps the online store connection and definition cache.
    fs = context.services.get("features")
    if fs is None:
        from podium.features import FeatureStore

        fs = context.services["features"] = FeatureStore(context.settings, context.store)
    return fs


@router.get("/{group}/records", summary="Online read of one or more records (GetRecord / BatchGetRecord)")
def get_records(
    group: str,
    key: list[str] = Query(..., description="Record identifier; repeat for several; a composite key as a JSON list"),
    feature: list[str] | None = Query(None, description="Only these features (repeatable)"),
    context: AppContext = Depends(get_context),
) -> dict[str, Any]:
    from podium.features.group import key_from_text

    fs = _feature_store(context)
    definition = fs.describe_group(group)
    records = fs.get_records(group, [key_from_text(definition, k) for k in key], feature)
    return {"group": group, "records": [_jsonable(r) for r in records]}


@router.put("/{group}/records", summary="Write one record (PutRecord)")
def put_record(group: str, record: dict[str, Any], context: AppContext = Depends(get_context)) -> dict[str, Any]:
    result = _feature_store(context).put_record(group, record)
    return {"ingestion_id": result.ingestion_id, "stored_online": bool(result.rows_online)}


def _jsonable(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in record.items()}
