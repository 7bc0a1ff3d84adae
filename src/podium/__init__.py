"""Podium: automated machine-learning data pipelines in one Python system."""

from importlib.metadata import PackageNotFoundError, version

from podium.errors import (
    AuthError,
    BackendUnavailableError,
    ConfigError,
    ConflictError,
    MissingDependencyError,
    NotFoundError,
    PodiumError,
    ValidationError,
)

try:
    __version__ = version("podium")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"

__all__ = [
    "AuthError",
    "BackendUnavailableError",
    "ConfigError",
    "ConflictError",
    "MissingDependencyError",
    "NotFoundError",
    "PodiumError",
    "ValidationError",
    "__version__",
]
