"""The JSON log line both services write: one object per line on stderr.

Shape: ``ts`` (UTC, milliseconds, ``Z``), ``level``, ``logger``, the message, then the service's
fixed fields, its context fields (read from context variables at format time, so every line
written while serving a request is tagged, a library's included) and the record's ``extra=``
fields; ``exc`` holds a traceback. A field whose value is ``None`` is left out.

The message's key is the one thing the services still name differently (the processor ``msg``,
the manager ``message``): both names are pinned by their tests, so each service states its own.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Collection, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

import orjson

__all__ = ["JsonFormatter", "configure_json_logging"]

# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as the shared JSON line (see the module docstring).

    ``fields``: the ``extra=`` names a line may carry (others are ignored); ``None`` = every
    attribute a record has beyond the standard ones.
    """

    def __init__(
        self,
        *,
        message_key: str,
        fixed: Mapping[str, Any] | None = None,
        context: Mapping[str, ContextVar[str | None]] | None = None,
        fields: Collection[str] | None = None,
    ) -> None:
        super().__init__()
        self._message_key = message_key
        self._fixed = dict(fixed or {})
        self._context = dict(context or {})
        self._fields = tuple(fields) if fields is not None else None
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            self._message_key: record.getMessage(),
            **self._fixed,
        }
        for key, var in self._context.items():
            value = var.get()
            if value is not None:
                line[key] = value
        attributes = record.__dict__
        if self._fields is None:
            for key, value in attributes.items():
                if key not in _STANDARD and value is not None:
                    line[key] = value
        else:
            for key in self._fields:
                value = attributes.get(key)
                if value is not None:
                    line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()

    def _timestamp(self, record: logging.LogRecord) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmmZ``; the part up to the second is made once a second (the
        manager writes a line per proxied request; formatting a date each time cost ~4 µs)."""
        second = int(record.created)
        cached_second, text = self._second  # one tuple: threads never see half an update
        if second != cached_second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int(record.msecs):03d}Z"


def configure_json_logging(
    level: str, formatter: logging.Formatter, loggers: Iterable[str]
) -> None:
    """Send each named logger (``""`` = the root) to stderr through ``formatter`` at ``level``.

    Each gets the one handler and stops propagating, so a line is written exactly once.
    The line has no caller, thread or process fields, so records no longer collect them
    (the logging HOWTO's "Optimization"; on the manager's line per proxied request the caller
    lookup alone walked the stack each time).
    """
    logging._srcfile = None  # no `findCaller`: funcName, lineno and pathname stay unset
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    for name in loggers:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(level.upper())
