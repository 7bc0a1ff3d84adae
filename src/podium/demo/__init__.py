"""The flagship scenario as far as it is built: each stage runs for real or says it is missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from podium.config import Settings
from podium.store import Store, open_store


class NotBuilt(Exception):
    """A stage whose capability has not landed yet."""


def _stage_metadata(settings: Settings, _store: Store) -> str:
    from podium.store import migrate

    with _store.connect() as connection:
        revisions = sorted(migrate.current_revisions(connection))
    return f"{_store.dialect} store at {settings.metadata_url} (revisions {', '.join(revisions)})"


def _not_built(what: str) -> Callable[[Settings, Store], str]:
    def stage(_settings: Settings, _store: Store) -> str:
        raise NotBuilt(what)

    return stage


STAGES: list[tuple[str, Callable[[Settings, Store], str]]] = [
    ("metadata store", _stage_metadata),
    ("schedule + trigger", _not_built("schedules and event rules (issue: triggers)")),
    ("workflow on durable engine", _not_built("durable engine (issue: engine)")),
    ("batch ingest + recipe", _not_built("batch jobs and recipes (issue: batch)")),
    ("stream + delivery", _not_built("streams and delivery (issue: streams)")),
    ("feature store", _not_built("feature store (issue: features)")),
    ("training job", _not_built("training jobs (issue: models)")),
    ("evaluation + registry", _not_built("model registry (issue: models)")),
    ("canary deployment", _not_built("serving (issue: serving)")),
]


def run_demo(home: Path, console: Console | None = None) -> dict[str, Any]:
    """Run every stage against a PODIUM_HOME at `home`; returns what each stage did."""
    settings = Settings.for_home(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    results: list[dict[str, str]] = []
    try:
        for name, stage in STAGES:
            if console is not None:
                console.print(f"[bold]▶ {name}[/]")
            try:
                summary = stage(settings, store)
                status = "done"
            except NotBuilt as missing:
                summary, status = str(missing), "not built yet"
            results.append({"stage": name, "status": status, "summary": summary})
    finally:
        store.dispose()
    return {"home": str(settings.home), "stages": results}
