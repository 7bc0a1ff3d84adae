"""Settings: `podium.toml` found from the working directory upward, overridden by `PODIUM_*`.

Precedence, lowest first: built-in defaults, `podium.toml`, environment variables.
`PODIUM_HOME` is the directory that holds everything Podium stores by default; it is
`.podium/` beside `podium.toml`, or `./.podium` when there is no file.

Settings are read when asked for (`load_settings()`), never at import time.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from podium.errors import ConfigError

CONFIG_FILE_NAME = "podium.toml"
ENV_PREFIX = "PODIUM_"

# Each embedded default lives under PODIUM_HOME; these are filled in by `Settings.for_home`.
_EMBEDDED_STREAMS = "embedded"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_EXECUTORS = ("local", "ray")


class Settings(BaseModel):
    """Every setting Podium reads. Build one with `load_settings()` or `Settings.for_home()`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path
    metadata_url: str
    lake_url: str
    streams_url: str = _EMBEDDED_STREAMS
    online_store_url: str
    executor: str = "local"
    ray_address: str | None = None
    api_token: str | None = None
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"
    # Serving: the largest endpoint invocation body the router accepts (413 above it).
    max_invocation_bytes: int = Field(default=6 * 1024 * 1024, ge=1)
    # Serving with several router processes on one store (podium.serving.ownership, .follow):
    # a deployment's owner holds a lease this long, renews it this often, and every process
    # reads the store for routing changes (and renews its leases) this often.
    serving_lease_seconds: float = Field(default=10.0, gt=0)
    serving_lease_renew_seconds: float = Field(default=2.5, gt=0, validate_default=True)
    serving_sync_seconds: float = Field(default=0.5, gt=0, validate_default=True)
    # name -> "module.path:callable", or a table with handler and limits (podium.functions.registry)
    functions: dict[str, Any] = Field(default_factory=dict)
    config_file: Path | None = None

    @field_validator("metadata_url")
    @classmethod
    def _check_metadata_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise ValueError(
                "must be a SQLAlchemy URL for SQLite (sqlite:///path/podium.db) "
                "or PostgreSQL (postgresql+psycopg://user@host:5432/db)"
            )
        return value

    @field_validator("streams_url")
    @classmethod
    def _check_streams_url(cls, value: str) -> str:
        base = value.split("?", 1)[0]
        if base != _EMBEDDED_STREAMS and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError(
                "must be 'embedded' (options such as 'embedded?fsync=always' allowed) "
                "or a Redis URL (redis://host:6379/0)"
            )
        return value

    @field_validator("online_store_url")
    @classmethod
    def _check_online_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("sqlite", "redis", "rediss"):
            raise ValueError("must be sqlite:///path/online.db or a Redis URL")
        return value

    @field_validator("executor")
    @classmethod
    def _check_executor(cls, value: str) -> str:
        if value not in _EXECUTORS:
            raise ValueError(f"must be one of {', '.join(_EXECUTORS)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return upper

    @field_validator("serving_lease_renew_seconds")
    @classmethod
    def _check_lease_renewal(cls, value: float, info: ValidationInfo) -> float:
        lease = info.data.get("serving_lease_seconds")
        if lease is not None and value >= lease:
            raise ValueError(
                f"must be shorter than serving_lease_seconds ({lease:g} s; got {value:g} s): a lease "
                "renewed no sooner than it expires lets another process take a live deployment over"
            )
        return value

    @field_validator("serving_sync_seconds")
    @classmethod
    def _check_sync(cls, value: float, info: ValidationInfo) -> float:
        renew = info.data.get("serving_lease_renew_seconds")
        if renew is not None and value > renew:
            raise ValueError(
                f"must be at most serving_lease_renew_seconds ({renew:g} s; got {value:g} s): "
                "the sync thread is what renews the leases"
            )
        return value

    @field_validator("functions")
    @classmethod
    def _check_functions(cls, value: dict[str, Any]) -> dict[str, Any]:
        from podium.errors import ValidationError as BadFunction
        from podium.functions.registry import spec_from_setting

        for name, setting in value.items():
            try:
                spec_from_setting(name, setting)
            except BadFunction as exc:
                raise ValueError(exc.message) from None
        return value

    @property
    def function_targets(self) -> dict[str, str]:
        """Each `[functions]` entry's handler, "module.path:callable"."""
        return {name: s if isinstance(s, str) else s["handler"] for name, s in self.functions.items()}

    @classmethod
    def for_home(cls, home: str | Path, **overrides: Any) -> Settings:
        """Settings with every embedded default placed under `home` (no file, no environment)."""
        return _build(Path(home), {}, overrides, config_file=None)

    def path(self, *parts: str) -> Path:
        """A path under PODIUM_HOME (not created)."""
        return self.home.joinpath(*parts)

    @property
    def lake_is_local(self) -> bool:
        scheme = urlsplit(self.lake_url).scheme
        return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter

    def public_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values, with the API token masked."""
        data = self.model_dump(mode="json")
        if data.get("api_token"):
            data["api_token"] = "***"
        return data


def _defaults(home: Path) -> dict[str, Any]:
    return {
        "home": home,
        "metadata_url": f"sqlite:///{home / 'podium.db'}",
        "lake_url": str(home / "lake"),
        "online_store_url": f"sqlite:///{home / 'features' / 'online.db'}",
    }


def _build(
    home: Path,
    file_values: Mapping[str, Any],
    env_values: Mapping[str, Any],
    *,
    config_file: Path | None,
) -> Settings:
    values = _defaults(home.resolve())
    values.update(file_values)
    values.update(env_values)
    values["home"] = home.resolve()
    values["config_file"] = config_file
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "?"
        where = _describe_origin(key, file_values, env_values, config_file)
        if first["type"] == "extra_forbidden":
            known = ", ".join(sorted(k for k in Settings.model_fields if k not in ("home", "config_file")))
            raise ConfigError(f"{where}: unknown setting '{key}' (known settings: {known})") from None
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: setting '{key}' {message}") from None


def _describe_origin(
    key: str, file_values: Mapping[str, Any], env_values: Mapping[str, Any], config_file: Path | None
) -> str:
    top = key.split(".")[0]
    if top in env_values:
        return f"environment variable {ENV_PREFIX}{top.upper()}"
    if config_file is not None and top in file_values:
        return str(config_file)
    return "settings"


def find_config_file(start: Path) -> Path | None:
    """The nearest `podium.toml` in `start` or one of its parents."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The `[podium]` table (or top level) and the `[functions]` table of a podium.toml."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    values = dict(raw.pop("podium", {}))
    if "functions" in raw:
        values["functions"] = raw.pop("functions")
    values.update(raw)
    if "home" in values:
        raise ConfigError(
            f"{path}: setting 'home' cannot be set in the file; PODIUM_HOME is "
            "the directory .podium beside the file, or the PODIUM_HOME environment variable"
        )
    return values


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}HOME":
            continue
        values[name[len(ENV_PREFIX) :].lower()] = value
    return values


def load_settings(cwd: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings for a working directory: podium.toml upward, then PODIUM_* variables."""
    start = Path(cwd if cwd is not None else os.getcwd()).resolve()
    env = os.environ if environ is None else environ
    config_file = find_config_file(start)
    file_values = read_config_file(config_file) if config_file else {}
    if env.get(f"{ENV_PREFIX}HOME"):
        home = Path(env[f"{ENV_PREFIX}HOME"])
        if not home.is_absolute():
            home = start / home
    elif config_file is not None:
        home = config_file.parent / ".podium"
    else:
        home = start / ".podium"
    return _build(home, file_values, _env_values(env), config_file=config_file)


def render_default_config() -> str:
    """The podium.toml that `podium init` writes: every setting commented with its default."""
    return """\
# Podium settings. Every key can also be set with an environment variable PODIUM_<KEY>.
# PODIUM_HOME (where Podium keeps its data) is .podium/ beside this file.

[podium]
# Metadata store: SQLite file in PODIUM_HOME by default, or PostgreSQL:
# metadata_url = "postgresql+psycopg://postgres@127.0.0.1:5432/podium"

# Data lake: a local directory by default, or any fsspec URL (s3://bucket/prefix).
# lake_url = "s3://my-bucket/podium-lake"

# Streams: "embedded" (a durable log in PODIUM_HOME) or Redis Streams.
# streams_url = "redis://127.0.0.1:6379/0"

# Online feature store: SQLite by default, or Redis.
# online_store_url = "redis://127.0.0.1:6379/1"

# Task executor: "local" (thread/process pools) or "ray".
# executor = "local"

# HTTP API: a token is required to listen on anything but loopback.
# api_token = "change-me"
# server_host = "127.0.0.1"
# server_port = 8000

# Serving: the largest endpoint invocation payload accepted (bytes; larger ones get 413).
# max_invocation_bytes = 6291456
# Router processes sharing a metadata store: a deployment's lease (seconds), how often its owner
# renews it (shorter than the lease), how often each process follows the store (at most the renewal).
# serving_lease_seconds = 10.0
# serving_lease_renew_seconds = 2.5
# serving_sync_seconds = 0.5

log_level = "INFO"

[functions]
# Functions that workflows can call, by name: name = "module.path:callable"
# score = "mypkg.jobs:score"
# or with their limits (defaults: timeout_seconds = 60, memory_mb = 1024, no concurrency cap):
# [functions.train]
# handler = "mypkg.jobs:train"
# timeout_seconds = 900
# memory_mb = 4096
# concurrency = 2
"""
