"""`podium lineage`: where a model version came from and where it went."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.tree import Tree

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Lineage graph: raw files → datasets → training sets → models → endpoints.",
                  no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A model version (group/N) or any entity name or URI."),
    direction: str = typer.Option("upstream", help="upstream (what it came from) or downstream."),
) -> None:
    """Print the lineage tree of an entity.

    Example: podium lineage show propensity/3
    """
    from podium.errors import NotFoundError, ValidationError
    from podium.models import Lineage

    if direction not in ("upstream", "downstream"):
        raise ValidationError("--direction must be upstream or downstream")
    lineage = Lineage(cli_state(ctx).store)
    matches = lineage.find(name=name)
    if not matches:
        raise NotFoundError(f"no lineage entity is named {name!r}")
    root = getattr(lineage, direction)(matches[-1].id)
    state = cli_state(ctx)
    if state.json:
        emit(ctx, root.to_dict())
        return

    def add(tree: Tree, node) -> None:  # type: ignore[no-untyped-def]
        for child in node.children:
            label = f"[dim]{child.association}[/] {child.entity.type}: [bold]{escape(child.entity.name)}[/]"
            add(tree.add(label), child)

    tree = Tree(f"{root.entity.type}: [bold]{escape(root.entity.name)}[/]")
    add(tree, root)
    state.console.print(tree)
