"""`podium stream`: real-time streams (Kinesis Data Streams) — create, put, tail, describe."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Real-time streams (Kinesis Data Streams): shards, records, iterators.", no_args_is_help=True)


def _streams(ctx: typer.Context) -> Any:
    from podium.ingest.streams.factory import from_settings

    return from_settings(cli_state(ctx).settings)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Stream name."),
    shards: int = typer.Option(1, "--shards", help="Number of shards (hash key space split evenly)."),
    retention_hours: int = typer.Option(24, "--retention-hours", help="How long records are kept (1-8760)."),
) -> None:
    """Create a stream.

    Example: podium stream create clicks --shards 4
    """
    meta = _streams(ctx).create_stream(name, shards, retention_hours)
    emit(ctx, {"stream": meta.name, "shards": len(meta.shards), "retention_hours": meta.retention_hours})


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List streams.

    Example: podium stream list
    """
    emit(ctx, [{"stream": name} for name in _streams(ctx).list_streams()], title="streams")


@app.command("describe")
def describe(ctx: typer.Context, name: str = typer.Argument(..., help="Stream name.")) -> None:
    """Show a stream's shards, their hash key ranges, lineage and sequence number ranges.

    Example: podium stream describe clicks
    """
    meta = _streams(ctx).describe_stream(name)
    shards = [
        {
            "shard": s.shard_id,
            "state": "OPEN" if s.is_open else "CLOSED",
            "starting_hash_key": str(s.starting_hash_key),
            "ending_hash_key": str(s.ending_hash_key),
            "parent": s.parent_shard_id,
            "adjacent_parent": s.adjacent_parent_shard_id,
            "ending_sequence": s.to_dict()["SequenceNumberRange"].get("EndingSequenceNumber"),
        }
        for s in meta.listed_shards()
    ]
    if cli_state(ctx).json:
        emit(ctx, {"stream": meta.name, "status": meta.status, "retention_hours": meta.retention_hours,
                   "shards": [s.to_dict() for s in meta.listed_shards()]})
        return
    emit(ctx, {"stream": meta.name, "status": meta.status, "retention_hours": meta.retention_hours,
               "open_shards": len(meta.open_shards())})
    emit(ctx, shards, title="shards")


@app.command("consumers")
def consumers(ctx: typer.Context, name: str = typer.Argument(..., help="Stream name.")) -> None:
    """List the stream's enhanced fan-out consumers (ListStreamConsumers).

    Example: podium stream consumers clicks
    """
    rows = [c.to_dict() for c in _streams(ctx).list_stream_consumers(name)]
    emit(ctx, rows, columns=["ConsumerName", "ConsumerStatus", "ConsumerARN"], title=f"consumers of {name}")


@app.command("register-consumer")
def register_consumer(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Stream name."),
    consumer: str = typer.Argument(..., help="Consumer name (unique within the stream)."),
) -> None:
    """Register an enhanced fan-out consumer: it gets its own read throughput per shard and
    records pushed by subscribe_to_shard (RegisterStreamConsumer).

    Example: podium stream register-consumer clicks dashboard
    """
    emit(ctx, _streams(ctx).register_stream_consumer(name, consumer).to_dict())


@app.command("deregister-consumer")
def deregister_consumer(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Stream name."),
    consumer: str = typer.Argument(..., help="Consumer name."),
) -> None:
    """Remove an enhanced fan-out consumer; its open subscriptions end (DeregisterStreamConsumer).

    Example: podium stream deregister-consumer clicks dashboard
    """
    _streams(ctx).deregister_stream_consumer(name, consumer)
    emit(ctx, {"stream": name, "deregistered": consumer})


@app.command("put")
def put(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Stream name."),
    key: str = typer.Option(..., "--key", "-k", help="Partition key (routes the record to a shard)."),
    data: str | None = typer.Option(None, "--data", "-d", help="Record data; without it, each line of stdin (or --file) is a record."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read records from this file, one per line."),
) -> None:
    """Put records: one with --data, or one per input line, in batches of 500.

    Example: podium stream put clicks --key user-1 --data '{"page": "/"}'
    """
    from podium.errors import PodiumError

    streams = _streams(ctx)
    if data is not None:
        lines = [data.encode()]
    else:
        source = file.open("rb") if file else sys.stdin.buffer
        lines = [line.rstrip(b"\n") for line in source if line.strip()]
    written: list[Any] = []
    failed = 0
    for start in range(0, len(lines), 500):
        result = streams.put_records(name, [(line, key) for line in lines[start : start + 500]])
        failed += result.failed_record_count
        written.extend(r for r in result.records if r.error_code is None)
        for r in result.records:
            if r.error_code is not None:
                typer.secho(f"failed [{r.error_code}]: {r.error_message}", err=True, fg="red")
    emit(ctx, {"stream": name, "written": len(written), "failed": failed,
               "last_shard": written[-1].shard_id if written else None,
               "last_sequence_number": written[-1].sequence_number if written else None})
    if failed:
        raise PodiumError(f"{failed} record(s) were not written", code="PartialFailure")


@app.command("tail")
def tail(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Stream name."),
    start: str = typer.Option("LATEST", "--from", help="TRIM_HORIZON (oldest) or LATEST (new records only)."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Keep waiting for new records."),
    max_records: int | None = typer.Option(None, "--max", help="Stop after this many records."),
) -> None:
    """Print records as they arrive, every shard, parents before children.

    Example: podium stream tail clicks --from TRIM_HORIZON --no-follow
    """
    import json

    streams = _streams(ctx)
    state = cli_state(ctx)
    iterators: dict[str, str | None] = {}
    done: set[str] = set()
    seen = 0
    while True:
        meta = streams.describe_stream(name)
        listed = {s.shard_id for s in meta.listed_shards()}
        for shard in meta.listed_shards():
            parents = {p for p in (shard.parent_shard_id, shard.adjacent_parent_shard_id) if p and p in listed}
            if shard.shard_id in done or not parents <= done:
                continue
            if shard.shard_id not in iterators:
                kind = "TRIM_HORIZON" if parents else start
                iterators[shard.shard_id] = streams.get_shard_iterator(name, shard.shard_id, kind)
        progressed = False
        for shard_id, iterator in list(iterators.items()):
            if iterator is None or shard_id in done:
                continue
            page = streams.get_records(iterator, limit=1000)
            iterators[shard_id] = page.next_shard_iterator
            if page.next_shard_iterator is None:
                done.add(shard_id)
                progressed = True
            for record in page.records:
                progressed = True
                if state.json:
                    typer.echo(json.dumps({"shard": shard_id, "sequence_number": record.sequence_number,
                                           "partition_key": record.partition_key,
                                           "arrival_ms": record.approximate_arrival_timestamp,
                                           "data": record.data.decode("utf-8", "replace")}))
                else:
                    typer.echo(f"{shard_id} {record.sequence_number[-12:]} {record.partition_key}: "
                               f"{record.data.decode('utf-8', 'replace')}")
                seen += 1
                if max_records is not None and seen >= max_records:
                    return
        if not progressed:
            if not follow:
                return
            time.sleep(0.2)
