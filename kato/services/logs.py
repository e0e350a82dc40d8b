"""Structured logs: the shared JSON line (``kato.web.logs``) on stderr, tagged with the
processor id; the message is under ``msg``."""

from __future__ import annotations

import logging

from kato.contract import trace_id_var
from kato.web.logs import JsonFormatter, configure_json_logging

LOGGER_NAME = "kato.services"

# Fields a log call may pass through ``extra=``; anything else on the record is ignored.
_FIELDS = ("request_id", "processor_id", "method", "path", "status", "duration_ms", "detail")


def json_formatter(processor_id: str) -> JsonFormatter:
    return JsonFormatter(
        message_key="msg",
        fixed={"processor_id": processor_id},
        context={"trace_id": trace_id_var},  # the W3C trace id (`kato.web.tracing`)
        fields=_FIELDS,
    )


def configure_logging(level: str, processor_id: str) -> logging.Logger:
    """JSON lines for our logger and uvicorn's (its access log is replaced by ours)."""
    configure_json_logging(
        level, json_formatter(processor_id), (LOGGER_NAME, "uvicorn", "uvicorn.error")
    )
    logging.getLogger("uvicorn.access").disabled = True
    return logging.getLogger(LOGGER_NAME)
