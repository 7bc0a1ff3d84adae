"""Structured logging: JSON lines to PODIUM_HOME/logs/podium.log, readable lines to stderr."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from typing import Any

from podium.config import Settings

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields become keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings, *, stderr: bool = True) -> None:
    """Send podium.* logs to a rotating JSON file under PODIUM_HOME/logs and to stderr."""
    logger = logging.getLogger("podium")
    logger.setLevel(settings.log_level)
    for handler in list(logger.handlers):
        if getattr(handler, "_podium", False):
            logger.removeHandler(handler)
            handler.close()
    log_dir = settings.path("logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir / "podium.log", maxBytes=20 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(JsonFormatter())
    file_handler._podium = True  # type: ignore[attr-defined]
    logger.addHandler(file_handler)
    if stderr:
        stream_handler = logging.StreamHandler(sys.stderr)
        stream_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        stream_handler.setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
        stream_handler._podium = True  # type: ignore[attr-defined]
        logger.addHandler(stream_handler)
    logger.propagate = False
