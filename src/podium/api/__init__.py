"""The HTTP API (FastAPI). Each capability adds its own router to app.ROUTERS."""

from podium.api.app import create_app

__all__ = ["create_app"]
