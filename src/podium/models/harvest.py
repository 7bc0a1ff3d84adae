"""Bring the lineage that other packages keep in their own records into the lineage graph.

Batch job runs record the files they read and the files they committed; feature store writes
record their source; training sets record their groups, entity table and output. Those records
are the truth about what flowed where, so instead of asking every producer to write the graph
too, `harvest` reads them (read-only) and merges the matching nodes and links, idempotently:

  file ──ContributedTo──▶ batch-job-run ──Produced──▶ dataset (lake dataset, catalog table)
  dataset ──ContributedTo──▶ feature-ingestion ──Produced──▶ feature-group
  feature-ingestion ──ContributedTo──▶ feature-group-snapshot ──ContributedTo──▶ training-set
  training-set / file / dataset ──ContributedTo──▶ dataset (a training job's channel folder
                                                   that holds it)

  workflow-execution ──AssociatedWith──▶ training-job / batch-job-run / feature-ingestion /
                                         training-set (what one of its Tasks started or built)
  model-version ──ContributedTo──▶ endpoint-deployment ──DeployedAs──▶ endpoint (Succeeded)
                                                       ──AssociatedWith──▶ endpoint (RolledBack, Failed)

A feature-group snapshot is the group as a training set saw it: `group@N` holds the writes up to
ingestion N, so a model's upstream names exactly the ingestions it could have learnt from.
Workflow executions come from the engine's history (the output of each succeeded Task names the
job it ran); deployments from serving's deployment records, once they have ended, so that the
outcome stored on the node (entities are written once) is final.
Training jobs, the registry and serving write their own part directly (podium.models.training,
registry, podium.serving.endpoints); this module links the two halves through channel folders.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from podium.models.lineage import NewEntity, canonical_uri, entity_id, is_within
from podium.store.tables.catalog import catalog_tables
from podium.store.tables.engine import engine_executions, engine_history, engine_tasks
from podium.store.tables.features import features_ingestions, features_training_sets
from podium.store.tables.ingest import (
    ingest_jobs,
    ingest_output_files,
    ingest_run_inputs,
    ingest_runs,
)
from podium.store.tables.models import lineage_associations, lineage_entities
from podium.store.tables.serving import serving_deployments, serving_endpoint_configs

if TYPE_CHECKING:
    from podium.models.lineage import Lineage

# Feature store writes that are bulk loads from somewhere (put_record, delete and materialize
# are not: they are single records or the online copy of data already in the graph).
BULK_KINDS = ("ingest", "catalog", "batch", "stream")
# Sources that name no data outside the process that wrote it.
IN_PROCESS = ("python", "workflow", "put_record")
# What a training job's channel folder can hold.
CONTAINED = ("training-set", "file", "dataset")
# Task resources whose output names a job or artifact the lineage graph holds.
TRACKED_RESOURCES = (
    "arn:aws:states:::sagemaker:createTrainingJob", "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "arn:aws:states:::glue:startJobRun", "arn:aws:states:::glue:startJobRun.sync",
    "arn:aws:states:::podium:features.ingest", "arn:aws:states:::podium:features.trainingSet",
)


class _Graph:
    """Entities and edges collected before one merge."""

    def __init__(self) -> None:
        self.entities: dict[str, NewEntity] = {}
        self.edges: set[tuple[str, str, str]] = set()

    def add(self, kind: str, type_: str, name: str, *, uri: str | None = None,
            properties: dict[str, Any] | None = None, at: datetime | None = None) -> str:
        entity = NewEntity(kind, type_, name, uri, properties or {}, at)
        self.entities.setdefault(entity.id, entity)
        return entity.id

    def link(self, source: str, destination: str, type_: str = "ContributedTo") -> None:
        self.edges.add((source, destination, type_))


def harvest(lineage: Lineage) -> int:
    """Merge what batch runs, feature writes and training sets recorded; returns rows added."""
    graph = _Graph()
    with lineage.store.connect() as conn:
        tables = {r.name: r for r in conn.execute(select(catalog_tables))}
        datasets = _batch_runs(conn, graph, tables)
        ingestions = _feature_writes(conn, graph, tables, datasets)
        _training_sets(conn, graph, tables, ingestions)
        _channels(conn, graph)
        _workflow_executions(conn, graph)
        _deployments(conn, graph)
    if not graph.entities and not graph.edges:
        return 0
    return lineage.merge(list(graph.entities.values()), sorted(graph.edges))


def _dataset(graph: _Graph, url: str, **properties: Any) -> str:
    return graph.add("artifact", "dataset", url, uri=url, properties={k: v for k, v in properties.items() if v})


def _batch_runs(conn: Any, graph: _Graph, tables: dict[str, Any]) -> dict[str, str]:
    """Runs that committed something: their input files and output datasets. Returns the
    dataset URLs (canonical) by run id, for feature writes that name a run."""
    runs = {r.id: r for r in conn.execute(select(ingest_runs).where(ingest_runs.c.status == "SUCCEEDED"))}
    inputs: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute(select(ingest_run_inputs.c.run_id, ingest_run_inputs.c.path)):
        if row.run_id in runs:
            inputs[row.run_id].append(row.path)
    outputs: dict[str, dict[str, str]] = defaultdict(dict)  # run -> dataset -> one file
    for row in conn.execute(select(ingest_output_files.c.run_id, ingest_output_files.c.dataset,
                                   ingest_output_files.c.path)):
        if row.run_id in runs:
            outputs[row.run_id].setdefault(row.dataset, row.path)
    by_dataset = {t.dataset: t for t in tables.values() if t.dataset}
    table_sources = {r.name: (r.definition.get("source") or {}).get("table")
                     for r in conn.execute(select(ingest_jobs.c.name, ingest_jobs.c.definition))}
    produced: dict[str, str] = {}
    for run_id, run in runs.items():
        if not inputs[run_id] and not outputs[run_id]:
            continue  # a run that found nothing new moved no data
        source_table = tables.get(table_sources.get(run.job_name) or "")
        action = graph.add("action", "batch-job-run", run_id, properties={
            "job": run.job_name, "number": run.number, "rows_read": run.rows_read,
            "rows_written": run.rows_written, "rows_quarantined": run.rows_quarantined,
        }, at=run.finished_at)
        for path in inputs[run_id]:
            uri = canonical_uri(path)
            graph.link(graph.add("artifact", "file", uri, uri=uri, at=run.started_at), action)
        if source_table is not None:
            url = canonical_uri(source_table.location)
            graph.link(_dataset(graph, url, catalog_table=source_table.name), action)
        for dataset, sample in outputs[run_id].items():
            table = by_dataset.get(dataset)
            url = canonical_uri(table.location) if table is not None else _dataset_url(sample, dataset)
            target = _dataset(graph, url, dataset=dataset, catalog_table=table.name if table else None)
            graph.link(action, target, "Produced")
            produced[run_id] = url
    return produced


def _dataset_url(file_url: str, dataset: str) -> str:
    """The dataset folder of one of its files (`<lake>/<dataset>/<partitions>/<file>`)."""
    marker = f"/{dataset}/"
    cut = file_url.rfind(marker)
    return canonical_uri(file_url[: cut + len(marker) - 1] if cut >= 0 else file_url.rsplit("/", 1)[0])


def _source(graph: _Graph, source: str, tables: dict[str, Any], runs: dict[str, str]) -> str | None:
    """The node a feature write's `source` names, or None when it names nothing durable."""
    if source in IN_PROCESS or source.startswith(("delete:", "offline:")):
        return None
    if source.startswith("batch:"):  # batch:<job>/<run id>
        run_id = source.rsplit("/", 1)[-1]
        return _dataset(graph, runs[run_id]) if run_id in runs else None
    if source.startswith(("catalog:", "table:")):  # catalog:<table>@v<version>
        name = source.split(":", 1)[1].rsplit("@v", 1)[0]
        table = tables.get(name)
        return _dataset(graph, canonical_uri(table.location), catalog_table=name) if table else None
    if source.startswith("stream:"):
        # `stream:<stream>/<application>/<shard>`: the artifact is the stream itself.
        return graph.add("artifact", "stream", source.split(":", 1)[1].split("/", 1)[0])
    if source in tables:
        return _dataset(graph, canonical_uri(tables[source].location), catalog_table=source)
    if "/" not in source:
        return None
    return _dataset_for_path(graph, canonical_uri(source), tables)


def _dataset_for_path(graph: _Graph, uri: str, tables: dict[str, Any]) -> str:
    """A path inside a catalogued dataset is that dataset; any other path is its own."""
    for table in tables.values():
        location = canonical_uri(table.location)
        if is_within(uri, location):
            return _dataset(graph, location, catalog_table=table.name, dataset=table.dataset)
    return _dataset(graph, uri)


def _feature_writes(
    conn: Any, graph: _Graph, tables: dict[str, Any], runs: dict[str, str]
) -> dict[str, list[tuple[int, datetime, datetime, str]]]:
    """Bulk writes into feature groups. Returns, per group, every completed write as
    (id, started_at, write_time, node id or '') for the training-set snapshots."""
    by_group: dict[str, list[tuple[int, datetime, datetime, str]]] = defaultdict(list)
    query = (select(features_ingestions).where(features_ingestions.c.status == "completed")
             .order_by(features_ingestions.c.id))
    for row in conn.execute(query):
        node = ""
        if row.kind in BULK_KINDS:
            node = graph.add("action", "feature-ingestion", f"{row.group_name}/{row.id}", properties={
                "group": row.group_name, "group_version": row.group_version, "kind": row.kind,
                "source": row.source, "rows": row.rows,
            }, at=row.finished_at or row.started_at)
            upstream = _source(graph, row.source, tables, runs)
            if upstream is not None:
                graph.link(upstream, node)
            graph.link(node, graph.add("artifact", "feature-group", row.group_name), "Produced")
        by_group[row.group_name].append((row.id, _utc(row.started_at), _utc(row.write_time), node))
    return by_group


def _training_sets(
    conn: Any, graph: _Graph, tables: dict[str, Any],
    writes: dict[str, list[tuple[int, datetime, datetime, str]]],
) -> None:
    for row in conn.execute(select(features_training_sets).order_by(features_training_sets.c.id)):
        created = _utc(row.created_at)
        name = canonical_uri(row.output) if row.output else f"training-set/{row.id}"
        target = graph.add("artifact", "training-set", name, uri=name if row.output else None, properties={
            "id": row.id, "rows": row.rows, "groups": row.groups,
            "as_of": row.as_of.isoformat() if row.as_of else None,
        }, at=created)
        for group in row.groups:
            group_name = group["name"]
            seen = [w for w in writes.get(group_name, []) if w[1] <= created
                    and (row.as_of is None or w[2] <= _utc(row.as_of))]
            last = max((w[0] for w in seen), default=0)
            snapshot = graph.add("artifact", "feature-group-snapshot", f"{group_name}@{last}", properties={
                "group": group_name, "group_version": group.get("version"), "last_ingestion_id": last,
                "features": group.get("features"),
            })
            graph.link(snapshot, target)
            for _, _, _, node in seen:
                if node:
                    graph.link(node, snapshot)
        entity = row.entity_source or ""
        if "/" in entity:
            graph.link(_dataset_for_path(graph, canonical_uri(entity), tables), target)


def _channels(conn: Any, graph: _Graph) -> None:
    """Link every artifact that lies in a training job's channel folder to that channel."""
    jobs = set(conn.scalars(select(lineage_entities.c.id).where(lineage_entities.c.type == "training-job")))
    channel_ids = {r.source_id for r in conn.execute(select(lineage_associations.c.source_id)
                   .where(lineage_associations.c.destination_id.in_(jobs)))} if jobs else set()
    if not channel_ids:
        return
    channels = [(r.id, r.uri) for r in conn.execute(
        select(lineage_entities.c.id, lineage_entities.c.uri).where(lineage_entities.c.id.in_(channel_ids)))
        if r.uri and "://" not in r.uri]
    stored = [(r.id, r.type, r.uri) for r in conn.execute(
        select(lineage_entities.c.id, lineage_entities.c.type, lineage_entities.c.uri)
        .where(lineage_entities.c.uri.is_not(None), lineage_entities.c.type.in_(CONTAINED)))]
    candidates = stored + [(e.id, e.type, e.uri) for e in graph.entities.values() if e.uri]
    for channel_id, folder in channels:
        for node_id, type_, uri in candidates:
            if node_id == channel_id or type_ not in CONTAINED:
                continue
            if uri == folder:
                graph.link(node_id, channel_id, "SameAs")
            elif is_within(uri, folder):
                graph.link(node_id, channel_id)


def _started_node(task: str, output: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, type, name) of what a succeeded Task started or built, from its output."""
    if task.startswith("createTrainingJob") and output.get("TrainingJobName"):
        return "action", "training-job", str(output["TrainingJobName"])
    if task.startswith("startJobRun"):  # .sync answers Glue's JobRun (Id), the other JobRunId
        run_id = output.get("JobRunId") or (output.get("Id") if task.endswith(".sync") else None)
        return ("action", "batch-job-run", str(run_id)) if run_id else None
    if task == "features.ingest" and output.get("FeatureGroupName") and output.get("IngestionId") is not None:
        return "action", "feature-ingestion", f"{output['FeatureGroupName']}/{output['IngestionId']}"
    if task == "features.trainingSet" and output.get("Output"):
        return "artifact", "training-set", canonical_uri(str(output["Output"]))
    return None


def _workflow_executions(conn: Any, graph: _Graph) -> None:
    """Link each workflow execution to the training jobs, batch runs, feature ingestions and
    training sets its Tasks started, as SageMaker Lineage records pipeline executions. Only what
    the graph already holds is linked (a job that failed or moved no data has no node)."""
    arns = sorted(set(conn.scalars(select(engine_tasks.c.execution_arn).where(
        engine_tasks.c.resource.in_(TRACKED_RESOURCES), engine_tasks.c.status == "SUCCEEDED"))))
    if not arns:
        return
    started: dict[str, set[str]] = defaultdict(set)
    for chunk in _slices(arns):
        # A history row holds a transition's events: those with a TaskSucceeded among them.
        for row in conn.execute(select(engine_executions.c.arn, engine_history.c.events).join_from(
                engine_history, engine_executions, engine_executions.c.id == engine_history.c.execution_id
        ).where(engine_executions.c.arn.in_(chunk), engine_history.c.events.contains('"TaskSucceeded"'))):
            try:
                events = json.loads(row.events)
            except ValueError:
                continue  # not ours to judge; the engine reports its own history
            for event in events:
                details = event[2] if isinstance(event, list) and len(event) == 3 and event[1] == "TaskSucceeded" \
                    else None
                output = details.get("output") if isinstance(details, dict) else None
                if not isinstance(output, dict):
                    continue
                target = _started_node(str(details.get("resource", "")), output)  # type: ignore[union-attr]
                if target is not None:
                    started[row.arn].add(entity_id(*target))
    wanted = {node for nodes in started.values() for node in nodes}
    present = {node for node in wanted if node in graph.entities}
    for chunk in _slices(sorted(wanted - present)):
        present |= set(conn.scalars(select(lineage_entities.c.id).where(lineage_entities.c.id.in_(chunk))))
    for chunk in _slices(sorted(started)):
        for run in conn.execute(select(engine_executions.c.arn, engine_executions.c.name,
                                       engine_executions.c.state_machine, engine_executions.c.version,
                                       engine_executions.c.alias, engine_executions.c.start_time)
                                .where(engine_executions.c.arn.in_(chunk))):
            targets = sorted(started[run.arn] & present)
            if not targets:
                continue
            # Status is left out: it changes (a redrive can turn FAILED into SUCCEEDED) and
            # entities are written once.
            action = graph.add("action", "workflow-execution", run.arn, uri=run.arn, properties={
                k: v for k, v in {"state_machine": run.state_machine, "execution": run.name,
                                  "version": run.version, "alias": run.alias,
                                  "started_at": _utc(run.start_time).isoformat()}.items() if v is not None
            }, at=run.start_time)
            for node in targets:
                graph.link(action, node, "AssociatedWith")


def _deployments(conn: Any, graph: _Graph) -> None:
    """One node per ended endpoint deployment, between the model versions its new config
    serves and the endpoint; the outcome says whether it stayed (Succeeded) or not. An
    endpoint's creation (no from_config) is not one: serving links its versions directly."""
    rows = list(conn.execute(select(serving_deployments).where(serving_deployments.c.ended_at.is_not(None),
                                                              serving_deployments.c.from_config.is_not(None))
                             .order_by(serving_deployments.c.id)))
    if not rows:
        return
    configs = {r.name: r.variants or [] for r in conn.execute(
        select(serving_endpoint_configs.c.name, serving_endpoint_configs.c.variants))}
    for row in rows:
        def versions(config: str | None) -> list[str]:
            return sorted({v["ModelVersion"] for v in configs.get(config or "", [])
                           if isinstance(v, dict) and v.get("ModelVersion")})

        new = versions(row.to_config)
        action = graph.add("action", "endpoint-deployment", f"{row.endpoint}/{row.id}", properties={
            k: v for k, v in {
                "endpoint": row.endpoint, "deployment_id": row.id, "from_config": row.from_config,
                "to_config": row.to_config, "outcome": row.outcome, "reason": row.reason,
                "started_at": _utc(row.started_at).isoformat(), "ended_at": _utc(row.ended_at).isoformat(),
                "model_versions": new, "replaced_model_versions": versions(row.from_config),
            }.items() if v is not None
        }, at=row.started_at)
        for version in new:
            graph.link(graph.add("artifact", "model-version", version), action)
        endpoint = graph.add("artifact", "endpoint", row.endpoint)
        graph.link(action, endpoint, "DeployedAs" if row.outcome == "Succeeded" else "AssociatedWith")


def _slices(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time Podium stores is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
