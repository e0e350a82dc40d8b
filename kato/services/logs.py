"""Structured logs: one JSON object per line on stderr, tagged with the processor id."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

LOGGER_NAME = "kato.services"

# Fields a log call may pass through ``extra=``; anything else on the record is ignored.
_FIELDS = ("request_id", "processor_id", "method", "path", "status", "duration_ms", "detail")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "msg", ...extra fields}``; exceptions go into ``exc``."""

    def __init__(self, processor_id: str) -> None:
        super().__init__()
        self._processor_id = processor_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "msg": record.getMessage(),
            "logger": record.name,
            "processor_id": self._processor_id,
        }
        for key in _FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, processor_id: str) -> logging.Logger:
    """JSON lines for our logger and uvicorn's (its access log is replaced by ours)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(processor_id))
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True
    return logging.getLogger(LOGGER_NAME)
