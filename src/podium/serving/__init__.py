"""Serving: model workers (SageMaker inference handlers), the router, endpoints and safe
deployments (blue/green all-at-once, canary, linear) with alarm-driven rollback.

Imports are lazy so that a model worker process (`python -m podium.serving.worker`) loads only
what it needs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EndpointService", "Plan", "Router", "plan"]


def __getattr__(name: str) -> Any:
    if name == "EndpointService":
        from podium.serving.endpoints import EndpointService

        return EndpointService
    if name == "Router":
        from podium.serving.router import Router

        return Router
    if name in ("Plan", "plan"):
        from podium.serving import deployment

        return getattr(deployment, name)
    raise AttributeError(name)
