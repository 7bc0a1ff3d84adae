"""Structured logs land in PODIUM_HOME/logs as JSON lines with their extra fields."""

from __future__ import annotations

import json
import logging

from podium.config import Settings
from podium.logs import configure_logging


def test_json_lines_in_home_logs(settings: Settings) -> None:
    configure_logging(settings, stderr=False)
    logging.getLogger("podium.test").warning("stream %s lagging", "clicks", extra={"lag_ms": 1500})
    for handler in logging.getLogger("podium").handlers:
        handler.flush()
    lines = (settings.path("logs") / "podium.log").read_text().splitlines()
    entry = json.loads(lines[-1])
    assert entry["message"] == "stream clicks lagging"
    assert entry["level"] == "WARNING"
    assert entry["lag_ms"] == 1500
    assert entry["logger"] == "podium.test"
