"""JSON logs (the shared line of `kato.web.logs`), each carrying the current `request_id`,
`trace_id` (W3C, `kato.web.tracing`) and `session_id`; the message is under `message`.

Both come from context variables set by the request middleware and the session routes, so
every line written while serving a request (ours or a library's) is tagged.
"""

from __future__ import annotations

from contextvars import ContextVar

from kato.contract import trace_id_var
from kato.web.logs import JsonFormatter, configure_json_logging

__all__ = ["configure_logging", "json_formatter", "request_id_var", "session_id_var"]

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
session_id_var: ContextVar[str | None] = ContextVar("session_id", default=None)


def json_formatter() -> JsonFormatter:
    """Every `extra=` field is logged, with the ids of the request being served."""
    return JsonFormatter(
        message_key="message",
        context={
            "request_id": request_id_var,
            "trace_id": trace_id_var,
            "session_id": session_id_var,
        },
    )


def configure_logging(level: str) -> None:
    """Route the root logger (and uvicorn's) to stderr as JSON lines."""
    configure_json_logging(
        level, json_formatter(), ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    )
