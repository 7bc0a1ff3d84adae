"""What route handlers receive: the settings and store of the running server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from podium.config import Settings
from podium.store import Store


@dataclass
class AppContext:
    settings: Settings
    store: Store
    # Long-lived services a router may keep per server (stream backends, routers, ...).
    services: dict[str, Any] = field(default_factory=dict)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.podium
    return context
