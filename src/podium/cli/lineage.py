"""`podium lineage`: where a model version came from and where it went."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.tree import Tree

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Lineage graph: raw files → datasets → training sets → models → endpoints.",
                  no_args_is_help=True)

DIRECTIONS = ("both", "upstream", "downstream")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A model version (group/N) or any entity name, path or URI."),
    direction: str = typer.Option(
        "both", help="upstream (what it came from), downstream (where it went) or both."),
    type_: str | None = typer.Option(
        None, "--type", help="Entity type when a name matches several (file, dataset, model, ...)."),
) -> None:
    """Print the lineage of an entity: for a model version, the tree from the raw files it was
    trained on down to it (with the workflow executions that ran its jobs), then the endpoint
    deployments that served it (with their outcome: Succeeded, RolledBack or Failed) and the
    endpoints.

    With --json and --direction both: {"upstream": tree, "downstream": tree}; with one direction,
    that tree. Each node: id, kind, type, name, uri, properties, association, children.

    Example: podium lineage show propensity/3
    """
    from podium.errors import NotFoundError, ValidationError
    from podium.models import Lineage

    if direction not in DIRECTIONS:
        raise ValidationError(f"--direction must be one of {', '.join(DIRECTIONS)}")
    lineage = Lineage(cli_state(ctx).store)
    matches = lineage.find(type_, name)
    if not matches:
        raise NotFoundError(f"no lineage entity{f' of type {type_}' if type_ else ''} is named {name!r}")
    entity = matches[-1].id
    trees = {d: getattr(lineage, d)(entity, sync=False)
             for d in ("upstream", "downstream") if direction in (d, "both")}
    state = cli_state(ctx)
    if state.json:
        emit(ctx, {d: t.to_dict() for d, t in trees.items()} if direction == "both"
             else trees[direction].to_dict())
        return

    def add(tree: Tree, node) -> None:  # type: ignore[no-untyped-def]
        for child in node.children:
            label = f"[dim]{child.association}[/] {child.entity.type}: [bold]{escape(child.entity.name)}[/]"
            if child.entity.properties.get("outcome"):  # a deployment: did it stay or not?
                label += f" [dim]({escape(str(child.entity.properties['outcome']))})[/]"
            add(tree.add(label), child)

    for which, root in trees.items():
        if which == "downstream" and direction == "both" and not root.children:
            continue  # nothing made from it yet
        title = "where it came from" if which == "upstream" else "where it went"
        tree = Tree(f"{root.entity.type}: [bold]{escape(root.entity.name)}[/] [dim]({title})[/]")
        add(tree, root)
        state.console.print(tree)
