"""Entry point of the `podium` command: global options, command groups, one-line errors."""

from __future__ import annotations

import importlib
import sys
import traceback

import click
import typer

from podium import __version__
from podium.cli.context import CliState
from podium.errors import PodiumError

# (noun, module): each module defines `app = typer.Typer(...)`. One line per noun.
COMMAND_GROUPS: tuple[tuple[str, str], ...] = (
    ("db", "podium.cli.db"),
    ("models", "podium.cli.models"),
    ("training", "podium.cli.training"),
    ("lineage", "podium.cli.lineage"),
    ("endpoint", "podium.cli.endpoint"),
    ("workflow", "podium.cli.workflow"),
    ("features", "podium.cli.features"),
    ("recipe", "podium.cli.recipe"),
    ("job", "podium.cli.job"),
    ("catalog", "podium.cli.catalog"),
    ("schedule", "podium.cli.schedule"),
    ("events", "podium.cli.events"),
    ("stream", "podium.cli.stream"),
    ("delivery", "podium.cli.delivery"),
    ("function", "podium.cli.function"),
)

# Top-level verbs: (name, module, function name).
TOP_LEVEL_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("init", "podium.cli.init", "init"),
    ("doctor", "podium.cli.doctor", "doctor"),
    ("server", "podium.cli.server", "server"),
    ("demo", "podium.cli.demo", "demo"),
    ("worker", "podium.cli.worker", "worker"),
    ("scheduler", "podium.cli.scheduler", "scheduler"),
    ("serve", "podium.cli.serve", "serve"),
)

app = typer.Typer(
    name="podium",
    help=(
        "Podium: automated ML data pipelines in one tool — ingest, prepare, feature store, "
        "ASL workflows, training, registry and safe deployment.\n\n"
        "Start with `podium init` in a project folder, then `podium doctor`."
    ),
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into paragraphs and shows `code` as code.
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = CliState(json=json_output, debug=debug)


for _name, _module in COMMAND_GROUPS:
    app.add_typer(importlib.import_module(_module).app, name=_name)
for _name, _module, _function in TOP_LEVEL_COMMANDS:
    app.command(name=_name)(getattr(importlib.import_module(_module), _function))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print `error [code]: message` and exit 1 (traceback with --debug)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        exit_code = app(args=args, prog_name="podium", standalone_mode=False)
        if isinstance(exit_code, int) and exit_code != 0:
            sys.exit(exit_code)
    except PodiumError as exc:
        if "--debug" in args:
            traceback.print_exc()
        typer.secho(f"error [{exc.code}]: {exc.message}", err=True, fg="red")
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # an unexpected failure is a bug: say so plainly
        if "--debug" in args:
            traceback.print_exc()
        typer.secho(
            f"error [InternalError]: {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
            err=True,
            fg="red",
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
