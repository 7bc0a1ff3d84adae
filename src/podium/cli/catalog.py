"""`podium catalog`: crawl files into tables, list tables, describe them, schema versions."""

from __future__ import annotations

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Data catalog: tables, schema versions, crawler.", no_args_is_help=True)


@app.command("crawl")
def crawl_cmd(
    ctx: typer.Context,
    location: str = typer.Argument(..., help="Folder, file, glob or fsspec URL of the table's files."),
    name: str | None = typer.Option(None, "--name", help="Table name (default: the folder name)."),
    format: str | None = typer.Option(None, "--format", help="csv, jsonl, json or parquet (default: extension)."),
) -> None:
    """Infer a table's schema and key=value partitions; record a new version if it changed.

    Example: podium catalog crawl lake/trips --name trips
    """
    from podium.catalog import crawl

    result = crawl(cli_state(ctx).store, location, name=name, format=format)
    t = result.table
    emit(ctx, {"table": t.name, "created": result.created, "version": t.version, "files": result.files,
               "format": t.format, "partition_keys": list(t.partition_keys),
               "change": result.change.to_dict() if result.change else None,
               "summary": result.change.summary() if result.change else ("new table" if result.created else "no change")})


@app.command("tables")
def tables(ctx: typer.Context) -> None:
    """List catalog tables.

    Example: podium catalog tables
    """
    from podium.catalog import list_tables

    rows = [{"name": t.name, "format": t.format, "version": t.version, "columns": len(t.columns),
             "partition_keys": ", ".join(t.partition_keys), "location": t.location, "managed_by": t.managed_by}
            for t in list_tables(cli_state(ctx).store)]
    emit(ctx, rows, title="catalog tables")


@app.command("describe")
def describe(ctx: typer.Context, name: str = typer.Argument(..., help="Table name.")) -> None:
    """Show a table's location, format, partitions and current columns.

    Example: podium catalog describe trips
    """
    from podium.catalog import get_table

    t = get_table(cli_state(ctx).store, name)
    state = cli_state(ctx)
    if state.json:
        emit(ctx, t.to_dict())
        return
    emit(ctx, {k: v for k, v in t.to_dict().items() if k != "columns"}, title=f"table {name}")
    emit(ctx, [c.to_dict() for c in t.columns], columns=["name", "type"], title="columns")


@app.command("versions")
def versions_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="Table name.")) -> None:
    """List a table's schema versions and what changed in each.

    Example: podium catalog versions trips
    """
    from podium.catalog import versions
    from podium.catalog.schema import Column, SchemaChange

    rows = []
    for v in versions(cli_state(ctx).store, name):
        ch = v.changes
        summary = SchemaChange(
            added=tuple(Column(c["name"], c["type"]) for c in ch.get("added", [])) if v.version > 1 else (),
            removed=tuple(Column(c["name"], c["type"]) for c in ch.get("removed", [])),
            retyped=tuple((c["name"], c["from"], c["to"]) for c in ch.get("retyped", [])),
        ).summary()
        rows.append({"version": v.version, "columns": len(v.columns), "partition_keys": ", ".join(v.partition_keys),
                     "files": v.files, "changes": summary if v.version > 1 else "first version",
                     "created_at": v.created_at})
    emit(ctx, rows, title=f"schema versions of {name}")
