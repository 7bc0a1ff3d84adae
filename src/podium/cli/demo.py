"""`podium demo`: run the nightly-retraining flagship end to end on embedded defaults.

Each stage runs for real against a fresh (or given) PODIUM_HOME, or is reported as not
built yet / failed with the reason; nothing is simulated.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit


def demo(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, help="PODIUM_HOME for the demo (default: a new temporary directory). Running again "
                   "with the same home replays the next nights: the batch job's bookmark reads only new files."
    ),
    small: bool = typer.Option(False, "--small", help="The same scenario on a slice of the data (users 1-100, "
                                                       "short training): about a minute."),
) -> None:
    """Run the nightly-retraining flagship end to end and write an HTML report.

    Example: podium demo --home /tmp/podium-demo
    """
    from podium.demo import DemoOptions, run_demo

    state = cli_state(ctx)
    target = home.resolve() if home else Path(tempfile.mkdtemp(prefix="podium-demo-"))
    options = DemoOptions.small() if small else DemoOptions()
    report = run_demo(target, console=None if state.json else state.console, options=options)
    failed = [s["stage"] for s in report["stages"] if s["status"] != "done"]
    if state.json:
        emit(ctx, {k: v for k, v in report.items() if k != "facts"})
    else:
        state.console.print()
        emit(ctx, report["stages"], columns=["stage", "status", "seconds", "summary"], title="Podium demo")
        _print_details(state.console, report["facts"], str(target))
        if report.get("report"):
            state.console.print(f"[bold]Report:[/] {report['report']}")
        if failed:
            state.console.print(f"[yellow]Not done:[/] {', '.join(failed)} (see the summaries above)")
        state.console.print(f"PODIUM_HOME: {target}  ({report['seconds']} s)")
    if failed:
        raise typer.Exit(1)


def _print_details(console: Any, facts: dict[str, Any], home: str) -> None:
    """Deployment steps and the deployed model's lineage (four levels; the report has it all)."""
    from rich.markup import escape
    from rich.tree import Tree

    for deployment in facts.get("deployments") or []:
        console.print(f"[bold]Deployment of {deployment['package']}[/] (night {deployment['night']}): "
                      f"{deployment['outcome']}")
        for event in deployment["events"]:
            console.print(f"  {event['time']}  {event['kind']:<18} green {event['green_share']:.0%}  "
                          f"{escape(str(event['detail']))}")
    lineage = facts.get("lineage") or {}
    if lineage.get("upstream"):
        def add(tree: Tree, node: dict[str, Any], depth: int) -> None:
            children = node.get("children") or []
            if depth == 4 and children:
                tree.add(f"[dim]… {len(children)} more upstream (see the report)[/]")
                return
            for child in children:
                name = escape(child["name"].replace(home, "<home>"))
                add(tree.add(f"[dim]{child['association']}[/] {child['type']}: {name}"), child, depth + 1)

        root = Tree(f"[bold]Lineage of {escape(lineage['model'])}[/] (upstream)")
        add(root, lineage["upstream"], 0)
        console.print(root)
