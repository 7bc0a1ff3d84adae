"""`podium features`: feature groups — define, inspect, ingest files, read records, query SQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Feature store: feature groups, offline SQL, online records.",
                  no_args_is_help=True)

_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _feature_store(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from podium.features import FeatureStore

    state = cli_state(ctx)
    return FeatureStore(state.settings, state.store)


def _ttl_seconds(text: str | None) -> int | None:
    from podium.errors import ValidationError

    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise ValidationError(f"--ttl {text!r}: use a number with s, m, h, d or w (e.g. 7d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _summary(group: Any) -> dict[str, Any]:
    return {
        "name": group.name,
        "version": group.version,
        "record_identifiers": ", ".join(group.record_identifiers),
        "event_time": group.event_time,
        "features": len(group.value_features),
        "ttl_seconds": group.ttl_seconds,
        "online": group.online_enabled,
        "offline": group.offline_enabled,
        "description": group.description,
    }


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Group name (a letter, then letters, digits or _)."),
    record_id: list[str] = typer.Option([], "--id", help="Record identifier feature (repeat for a composite key)."),
    event_time: str | None = typer.Option(None, "--event-time", help="Event-time feature (type timestamp)."),
    feature: list[str] = typer.Option([], "--feature", "-f", help="name:type, e.g. spend:float64 (repeat)."),
    ttl: str | None = typer.Option(None, "--ttl", help="Time to live, e.g. 3600, 90m, 12h, 7d, 2w."),
    description: str = typer.Option("", help="What the group holds."),
    tag: list[str] = typer.Option([], "--tag", help="key=value (repeat)."),
    offline_only: bool = typer.Option(False, "--offline-only", help="No online store."),
    online_only: bool = typer.Option(False, "--online-only", help="No offline store."),
    file: Path | None = typer.Option(None, "--file", help="A JSON or YAML definition instead of options."),
) -> None:
    """Create a feature group.

    Example: podium features create customers --id customer_id --event-time ts
      -f customer_id:int64 -f ts:timestamp -f spend:float64 --ttl 7d
    """
    from podium.errors import ValidationError

    if file is not None:
        import yaml

        definition = yaml.safe_load(file.read_text())
        if not isinstance(definition, dict):
            raise ValidationError(f"{file}: a definition is a mapping with record_identifiers, event_time, features")
        definition.pop("name", None)
        if "ttl_seconds" in definition:
            definition["ttl"] = definition.pop("ttl_seconds")
    else:
        features: dict[str, str] = {}
        for item in feature:
            column, sep, type_name = item.partition(":")
            if not sep:
                raise ValidationError(f"--feature {item!r}: write name:type, e.g. spend:float64")
            features[column] = type_name
        tags = dict(t.split("=", 1) for t in tag if "=" in t)
        if not record_id or not event_time:
            raise ValidationError("give --id and --event-time (or --file)")
        definition = {
            "record_identifiers": record_id, "event_time": event_time, "features": features,
            "ttl": _ttl_seconds(ttl), "description": description, "tags": tags,
            "online_enabled": not offline_only, "offline_enabled": not online_only,
        }
    group = _feature_store(ctx).create_group(name, **definition)
    emit(ctx, group.to_dict() if cli_state(ctx).json else _summary(group), title="Feature group")


@app.command("describe")
def describe(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    version: int | None = typer.Option(None, help="A past schema version."),
) -> None:
    """Show a feature group's definition and features.

    Example: podium features describe customers
    """
    group = _feature_store(ctx).describe_group(name, version)
    if cli_state(ctx).json:
        emit(ctx, group.to_dict())
        return
    emit(ctx, {**_summary(group), "tags": dict(group.tags)}, title=f"Feature group {name}")
    emit(ctx, [f.to_dict() for f in group.features], columns=["name", "type", "description"],
         title="Features")


@app.command("list")
def list_groups(ctx: typer.Context) -> None:
    """List feature groups.

    Example: podium features list
    """
    emit(ctx, [_summary(g) for g in _feature_store(ctx).list_groups()],
         columns=["name", "version", "record_identifiers", "event_time", "features", "ttl_seconds",
                  "online", "offline"], title="Feature groups")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    purge_data: bool = typer.Option(False, "--purge-data", help="Also delete its offline Parquet files."),
) -> None:
    """Delete a feature group (its offline data stays in the lake unless --purge-data).

    Example: podium features delete customers --purge-data
    """
    _feature_store(ctx).delete_group(name, purge_data=purge_data)
    emit(ctx, {"deleted": name, "purged": purge_data})


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    path: Path = typer.Argument(..., help="A Parquet, CSV or JSON-lines file."),
    write_time_column: str | None = typer.Option(None, help="Column to record as each row's write time."),
) -> None:
    """Ingest a file into a feature group (offline log + online latest values).

    Example: podium features ingest customers customers.parquet
    """
    import pyarrow.csv
    import pyarrow.json
    import pyarrow.parquet

    from podium.errors import ValidationError

    readers = {".parquet": pyarrow.parquet.read_table, ".csv": pyarrow.csv.read_csv,
               ".jsonl": pyarrow.json.read_json, ".json": pyarrow.json.read_json}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ValidationError(f"{path}: use a .parquet, .csv or .jsonl file")
    result = _feature_store(ctx).ingest(name, reader(str(path)), source=str(path),
                                        write_time_column=write_time_column)
    emit(ctx, {"ingestion_id": result.ingestion_id, "rows": result.rows,
               "rows_online": result.rows_online, "files": len(result.files)}, title="Ingested")


@app.command("get")
def get(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    keys: list[str] = typer.Argument(..., help="Record identifiers; a composite key as JSON, e.g. '[1, \"a\"]'."),
) -> None:
    """Read records from the online store (expired, deleted or unknown keys show as null).

    Example: podium features get customers 42 43
    """
    from podium.features.group import key_from_text

    fs = _feature_store(ctx)
    group = fs.describe_group(name)
    parsed = [key_from_text(group, k) for k in keys]
    records = fs.get_records(name, parsed)
    emit(ctx, [{"key": k, "record": r} for k, r in zip(keys, records, strict=True)],
         columns=["key", "record"], title=f"Records of {name}")


@app.command("query")
def query(
    ctx: typer.Context,
    sql: str = typer.Argument(..., help="DuckDB SQL; each feature group is a view of its name."),
    limit: int = typer.Option(100, help="Rows to print at most."),
) -> None:
    """Run SQL over the offline store (every written row, with write_time and is_deleted).

    Example: podium features query "SELECT customer_id, count(*) FROM customers GROUP BY 1"
    """
    table = _feature_store(ctx).query(sql)
    rows = table.slice(0, limit).to_pylist()
    emit(ctx, rows, columns=table.column_names, title=f"{table.num_rows} row(s)")


def _mapping(pairs: list[str]) -> dict[str, str]:
    from podium.errors import ValidationError

    mapping: dict[str, str] = {}
    for pair in pairs:
        feature, sep, column = pair.partition("=")
        if not sep or not feature or not column:
            raise ValidationError(f"--map {pair!r}: use feature=column")
        mapping[feature] = column
    return mapping


def _ingested(ctx: typer.Context, result: Any) -> None:
    emit(ctx, {"ingestion_id": result.ingestion_id, "rows": result.rows,
               "rows_online": result.rows_online, "files": len(result.files)}, title="Ingested")


@app.command("ingest-table")
def ingest_table(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    table: str = typer.Argument(..., help="Catalog table (see `podium catalog tables`)."),
    map_: list[str] = typer.Option([], "--map", help="feature=column where the names differ (repeat)."),
    where: str | None = typer.Option(None, help="SQL filter on the table's columns."),
    write_time_column: str | None = typer.Option(None, help="Column to record as each row's write time."),
) -> None:
    """Ingest a catalog table's rows (columns named like the features; others ignored).

    Example: podium features ingest-table customers raw_customers --map customer_id=id --where "country = 'FR'"
    """
    result = _feature_store(ctx).ingest_catalog_table(
        name, table, columns=_mapping(map_), where=where, write_time_column=write_time_column)
    _ingested(ctx, result)


@app.command("ingest-run")
def ingest_run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    run_id: str | None = typer.Argument(None, help="Batch job run id (see `podium job runs`)."),
    job: str | None = typer.Option(None, "--job", help="Take this job's latest successful run."),
    map_: list[str] = typer.Option([], "--map", help="feature=column where the names differ (repeat)."),
    where: str | None = typer.Option(None, help="SQL filter on the output's columns."),
) -> None:
    """Ingest a batch job run's committed output.

    Example: podium features ingest-run customers --job customers-daily
    """
    result = _feature_store(ctx).ingest_batch_output(
        name, run_id, job=job, columns=_mapping(map_), where=where)
    _ingested(ctx, result)


@app.command("ingest-stream")
def ingest_stream(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    stream: str = typer.Argument(..., help="Stream to consume (JSON object records)."),
    application: str = typer.Option("podium-features", "--application",
                                    help="Consumer application (its leases and checkpoints)."),
    idle_timeout: float | None = typer.Option(
        None, "--idle-timeout", help="Stop after this many seconds without records (default: run until stopped)."),
    max_batches: int | None = typer.Option(None, "--max-batches", help="Stop after this many batches."),
) -> None:
    """Consume a stream into a feature group: once per checkpoint, bad records quarantined.

    Example: podium features ingest-stream clicks clicks --idle-timeout 5
    """
    from podium.ingest.streams.consumer import Consumer
    from podium.ingest.streams.factory import from_settings

    state = cli_state(ctx)
    streams = from_settings(state.settings)
    consumer = Consumer(streams, state.store, application, stream, idle_timeout_s=idle_timeout)
    try:
        result = _feature_store(ctx).ingest_stream(name, consumer, max_batches=max_batches)
    finally:
        consumer.close()
        streams.close()
    summary = result.to_dict()
    summary["ingestions"] = len(summary["ingestions"])
    emit(ctx, summary, title="Stream ingested")


@app.command("compact")
def compact(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    min_files: int = typer.Option(2, "--min-files", help="Merge a partition holding at least this many files."),
) -> None:
    """Merge each event-date partition's small offline files into one (atomic for readers;
    training sets and queries give the same results).

    Example: podium features compact clicks
    """
    emit(ctx, _feature_store(ctx).compact(name, min_files=min_files).to_dict(), title="Compacted")


@app.command("add-features")
def add_features(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Feature group."),
    feature: list[str] = typer.Option(..., "--feature", "-f", help="name:type, e.g. country:string (repeat)."),
) -> None:
    """Add features to a group as a new schema version (rows written before read them as null).

    Example: podium features add-features customers -f country:string -f n_orders:int64
    """
    from podium.errors import ValidationError

    added: dict[str, str] = {}
    for item in feature:
        column, sep, type_name = item.partition(":")
        if not sep:
            raise ValidationError(f"--feature {item!r}: write name:type, e.g. spend:float64")
        added[column] = type_name
    group = _feature_store(ctx).add_features(name, added)
    emit(ctx, group.to_dict() if cli_state(ctx).json else _summary(group), title="Feature group")
