"""What every command shares: global options, lazily loaded settings and store, and output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # imported lazily so that `podium --help` does not load SQLAlchemy
    from podium.config import Settings
    from podium.store import Store


@dataclass
class CliState:
    json: bool = False
    debug: bool = False
    console: Console = field(default_factory=lambda: Console(stderr=False))
    _settings: Settings | None = None
    _store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from podium.config import load_settings

            self._settings = load_settings()
            from podium.logs import configure_logging

            configure_logging(self._settings, stderr=not self.json)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from podium.store import open_store

            self._store = open_store(self.settings)
        return self._store


def cli_state(ctx: typer.Context) -> CliState:
    """The CliState of this invocation (created by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def parse_when(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date-time given to `option` (UTC when it names no zone), or None."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from podium.errors import ValidationError

        raise ValidationError(f"{option}: not an ISO 8601 date-time ({text!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path | Text):
        return str(value)
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    return value


def _cell(value: Any) -> str | Text:
    """A table cell: user text is escaped so that '[extra]' is not taken for Rich markup."""
    if isinstance(value, Text):
        return value
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return escape(json.dumps(to_jsonable(value), default=str))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return escape(str(value))


def emit(
    ctx: typer.Context,
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """Print `data`: JSON with --json; else a table (list of dicts) or key/value view (dict)."""
    state = cli_state(ctx)
    if state.json:
        typer.echo(json.dumps(to_jsonable(data), indent=2, default=str))
        return
    if isinstance(data, list) and (not data or isinstance(data[0], dict)):
        names = list(columns or (data[0].keys() if data else []))
        table = Table(title=title, header_style="bold")
        for name in names:
            table.add_column(name)
        for row in data:
            table.add_row(*(_cell(row.get(name)) for name in names))
        if not data:
            state.console.print(f"[dim]{title + ': ' if title else ''}nothing to show[/dim]")
            return
        state.console.print(table)
        return
    if isinstance(data, dict):
        table = Table(title=title, show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        for key in columns or data.keys():
            table.add_row(str(key), _cell(data.get(key)))
        state.console.print(table)
        return
    state.console.print(data)
