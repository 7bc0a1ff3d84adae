"""Podium: automated machine-learning data pipelines in one Python system.

The public API: the `Podium` client (one object per project that hands out every service),
the service classes it builds, the errors, and the version. Everything else may move.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

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

# Imported on first use, so `import podium` (and `podium --help`) stays light.
_LAZY = {
    "Podium": "podium.client",
    "Engine": "podium.engine",
    "Worker": "podium.engine",
    "FeatureStore": "podium.features",
    "ModelRegistry": "podium.models.registry",
    "TrainingJobs": "podium.models.training",
    "Lineage": "podium.models.lineage",
    "EndpointService": "podium.serving.endpoints",
    "EventBus": "podium.triggers.bus",
    "Scheduler": "podium.triggers.scheduler",
    "Settings": "podium.config",
    "load_settings": "podium.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    *_LAZY,
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

