"""`podium doctor`: check the configuration and every backend it names."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
from rich.text import Text

from podium.cli.context import cli_state, emit
from podium.config import Settings
from podium.errors import PodiumError

Check = tuple[str, str, str]  # (status, name, detail)


def _check_metadata(settings: Settings) -> Check:
    from podium.store import migrate, open_store

    try:
        store = open_store(settings)
    except PodiumError as exc:
        return ("fail", "metadata store", exc.message)
    try:
        with store.connect() as connection:
            current = migrate.current_revisions(connection)
        heads = migrate.head_revisions()
        detail = f"{store.dialect} at {store.url}; schema {'up to date' if current == heads else 'behind'}"
        return ("ok" if current == heads else "fail", "metadata store", detail)
    finally:
        store.dispose()


def _check_writable_dir(name: str, path: Path) -> Check:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-", delete=True):
            pass
    except OSError as exc:
        return ("fail", name, f"{path} is not writable: {exc.strerror}")
    return ("ok", name, f"{path} (writable)")


def _check_lake(settings: Settings) -> Check:
    if settings.lake_is_local:
        return _check_writable_dir("lake", Path(settings.lake_url.removeprefix("file://")))
    try:
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(settings.lake_url)
        fs.ls(paths[0]) if fs.exists(paths[0]) else None
    except Exception as exc:  # any filesystem error means the lake is not usable
        return ("fail", "lake", f"{settings.lake_url}: {type(exc).__name__}: {exc}")
    return ("ok", "lake", settings.lake_url)


def _check_redis(name: str, url: str) -> Check:
    if importlib.util.find_spec("redis") is None:
        return ("fail", name, f"{url} needs redis-py: pip install 'podium[redis]'")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return ("fail", name, f"{url} is not reachable: {exc}")
    return ("ok", name, f"Redis at {url}")


def _check_streams(settings: Settings) -> Check:
    if settings.streams_url.split("?", 1)[0] == "embedded":
        return _check_writable_dir("streams", settings.path("streams"))
    return _check_redis("streams", settings.streams_url)


def _check_online(settings: Settings) -> Check:
    scheme = urlsplit(settings.online_store_url).scheme
    if scheme == "sqlite":
        path = Path(settings.online_store_url.removeprefix("sqlite:///"))
        return _check_writable_dir("online feature store", path.parent)
    return _check_redis("online feature store", settings.online_store_url)


def _check_executor(settings: Settings) -> Check:
    if settings.executor == "local":
        return ("ok", "executor", f"local pools on {os.cpu_count()} CPUs")
    # Say so rather than report "ok": the Ray executor is not built, tasks still run locally.
    return ("fail", "executor", "executor 'ray' is not available yet: tasks run on the local pools; "
            "set executor = \"local\" in podium.toml")


def _check_optional(package: str, extra: str) -> Check:
    found = importlib.util.find_spec(package) is not None
    return (
        "ok" if found else "info",
        f"package {package}",
        "installed" if found else f"not installed (optional: pip install 'podium[{extra}]')",
    )


def doctor(ctx: typer.Context) -> None:
    """Check the configuration, metadata store, lake, streams, online store and engines.

    Exits 1 when a check fails. Example: podium doctor --json
    """
    state = cli_state(ctx)
    settings = state.settings
    checks: list[Callable[[], Check]] = [
        lambda: ("ok", "config", str(settings.config_file or "defaults (no podium.toml found)")),
        lambda: _check_writable_dir("home", settings.home),
        lambda: _check_metadata(settings),
        lambda: _check_lake(settings),
        lambda: _check_streams(settings),
        lambda: _check_online(settings),
        lambda: _check_executor(settings),
        lambda: _check_optional("psycopg", "postgres"),
        lambda: _check_optional("redis", "redis"),
        lambda: _check_optional("ray", "ray"),
    ]
    rows: list[dict[str, Any]] = []
    for run in checks:
        status, name, detail = run()
        rows.append({"check": name, "status": status, "detail": detail})
    failed = [row for row in rows if row["status"] == "fail"]
    if state.json:
        emit(ctx, {"ok": not failed, "checks": rows})
    else:
        colours = {"ok": "green", "fail": "red", "info": "yellow"}
        for row in rows:
            row["status"] = Text(row["status"], style=colours[row["status"]])
        emit(ctx, rows, columns=["check", "status", "detail"], title="podium doctor")
    if failed:
        raise typer.Exit(1)
