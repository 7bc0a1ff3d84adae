"""Feature store Task resources over `podium.features`.

  arn:aws:states:::aws-sdk:sagemakerfeaturestoreruntime:putRecord
      SageMaker's PutRecord: FeatureGroupName, Record [{FeatureName, ValueAsString |
      ValueAsStringList}], optional TargetStores ["OnlineStore", "OfflineStore"]. Values are
      strings, as in the SDK, and are converted to the group's declared types here. Returns {}.
  arn:aws:states:::podium:features.ingest
      FeatureGroupName and one of Source (a Parquet file or folder), Records (a list of
      objects), CatalogTable (a catalog table; optional Columns {feature: column}, Where) or
      JobRunId / JobName (a batch job run's committed output, JobName alone = its latest
      successful run; optional Columns, Where); optional TargetStores. Returns the
      ingestion's id and counts.
  arn:aws:states:::podium:features.trainingSet
      Entity (a Parquet path/glob with the key columns and Timestamp), Features ("group" or
      "group:feature"), Timestamp, Output (a Parquet file to write), optional AsOf,
      FullFeatureNames. Returns the output path, row count and status counts per group.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from podium.config import Settings
from podium.errors import ValidationError
from podium.store import Store

_STORES = {"OnlineStore": "online", "OfflineStore": "offline"}


def _target_stores(params: dict[str, Any]) -> list[str] | None:
    names = params.get("TargetStores")
    if names is None:
        return None
    unknown = [n for n in names if n not in _STORES]
    if unknown:
        raise ValidationError(f"TargetStores {unknown}: use OnlineStore and/or OfflineStore")
    return [_STORES[n] for n in names]


def _required(params: dict[str, Any], key: str, resource: str) -> Any:
    value = params.get(key) if isinstance(params, dict) else None
    if value in (None, "", []):
        raise ValidationError(f"{resource} needs Parameters.{key}")
    return value


def typed_value(feature_type: str, text: str, where: str) -> Any:
    """A PutRecord ValueAsString as the declared type (`int64`, `float64`, `bool`, ...)."""
    try:
        if feature_type == "int64":
            return int(text)
        if feature_type == "float64":
            return float(text)
        if feature_type == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return lowered in ("true", "1")
    except ValueError:
        raise ValidationError(f"{where}: {text!r} is not a {feature_type}") from None
    return text  # string; timestamps are taken as ISO-8601 strings by the feature store


class FeatureStoreIntegration:
    """Handlers for the feature store resources, bound to one Podium home."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store

    @contextmanager
    def _features(self) -> Iterator[Any]:
        # One FeatureStore per call: Task calls run on executor threads, and the online
        # store's connections belong to the thread that opened them.
        from podium.features import FeatureStore

        features = FeatureStore(self.settings, self.store)
        try:
            yield features
        finally:
            features.close()

    def put_record(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = "sagemakerfeaturestoreruntime:putRecord"
        name = _required(params, "FeatureGroupName", resource)
        items = _required(params, "Record", resource)
        with self._features() as features:
            group = features.describe_group(name)
            types = {f.name: f.type for f in group.features}
            record: dict[str, Any] = {}
            for index, item in enumerate(items):
                where = f"Record[{index}]"
                feature = item.get("FeatureName")
                if feature not in types:
                    raise ValidationError(f"{where}: feature group '{name}' has no feature {feature!r}")
                kind = types[feature]
                if "ValueAsStringList" in item:
                    inner = kind.removeprefix("list<").removesuffix(">")
                    record[feature] = [typed_value(inner, v, where) for v in item["ValueAsStringList"]]
                else:
                    record[feature] = typed_value(kind, str(item.get("ValueAsString")), where)
            features.put_record(name, record, target_stores=_target_stores(params))
        return {}

    def ingest(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = "podium:features.ingest"
        name = _required(params, "FeatureGroupName", resource)
        kinds: list[str] = [k for k in ("Source", "Records", "CatalogTable", "JobRunId") if k in params]
        if "JobName" in params and "JobRunId" not in params:
            kinds.append("JobName")
        if len(kinds) != 1:
            raise ValidationError(
                f"{resource} needs exactly one of Parameters.Source, Records, CatalogTable or "
                f"JobRunId/JobName (got {', '.join(kinds) or 'none'})"
            )
        targets = _target_stores(params)
        columns, where = params.get("Columns"), params.get("Where")
        with self._features() as features:
            if "CatalogTable" in params:
                table = str(params["CatalogTable"])
                result = features.ingest_catalog_table(name, table, columns=columns, where=where,
                                                       target_stores=targets)
                lineage_source = f"catalog:{table}"
            elif kinds[0] in ("JobRunId", "JobName"):
                run_id = params.get("JobRunId")
                result = features.ingest_batch_output(
                    name, str(run_id) if run_id else None, job=params.get("JobName"),
                    columns=columns, where=where, target_stores=targets)
                lineage_source = None
            else:
                data = params.get("Source") or params["Records"]
                result = features.ingest(name, data, source=str(params.get("Source") or "workflow"),
                                         target_stores=targets)
                lineage_source = str(params["Source"]) if "Source" in params else None
        if lineage_source is not None:
            self._link([lineage_source], "feature-group", name)
        return {"FeatureGroupName": name, "IngestionId": result.ingestion_id, "Rows": result.rows,
                "RowsOnline": result.rows_online, "Files": len(result.files)}

    def training_set(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = "podium:features.trainingSet"
        entity = _required(params, "Entity", resource)
        refs = _required(params, "Features", resource)
        output = _required(params, "Output", resource)
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        as_of = params.get("AsOf")
        with self._features() as features:
            built = features.training_set(
                entity, list(refs), timestamp=params.get("Timestamp", "event_timestamp"),
                as_of=datetime.fromisoformat(as_of) if as_of else None,
                full_feature_names=bool(params.get("FullFeatureNames", False)), output=output,
            )
        # The training set's folder is what a training job names as its channel: link the groups
        # and the entity rows to it, so a model's lineage reaches back to its features.
        groups = sorted({str(ref).split(":", 1)[0] for ref in refs})
        self._link([f"feature-group:{g}" for g in groups] + [str(entity)], "dataset", str(Path(output).parent))
        return {"Output": str(output), "Rows": built.rows, "StatusCounts": built.status_counts,
                "LineageId": built.lineage_id}

    def _link(self, sources: list[str], kind: str, name: str) -> None:
        """Record `sources` ContributedTo the artifact (`kind`, `name`) in the lineage graph;
        a source written `feature-group:<name>` is a feature group, anything else a dataset."""
        from podium.models import Lineage

        lineage = Lineage(self.store)
        with self.store.begin() as conn:
            target = lineage.artifact(kind, name, uri=name if kind == "dataset" else None, connection=conn)
            for source in sources:
                if source.startswith("feature-group:"):
                    source_id = lineage.artifact("feature-group", source.split(":", 1)[1], connection=conn)
                else:
                    source_id = lineage.artifact("dataset", source, uri=source, connection=conn)
                lineage.associate(source_id, target, "ContributedTo", connection=conn)

    def handlers(self) -> dict[str, Any]:
        return {
            "arn:aws:states:::aws-sdk:sagemakerfeaturestoreruntime:putRecord": self.put_record,
            "arn:aws:states:::podium:features.ingest": self.ingest,
            "arn:aws:states:::podium:features.trainingSet": self.training_set,
        }
