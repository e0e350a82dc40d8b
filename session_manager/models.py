"""Pydantic models at the HTTP edge of the sessions API, and the identifier formats it accepts.

Every number has a range and every string a length and a character set, so nothing the
registry stores can later fail to render (a `ttl_seconds` of 10^12 used to make every
listing a 500).
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from kato.contract import iso_time

from .genes import SessionGenes
from .registry import SessionRecord

__all__ = [
    "JsonInt",
    "MAX_TTL_SECONDS",
    "SESSION_ID",
    "USER_ID",
    "CreateSessionRequest",
    "ErrorBody",
    "SessionList",
    "SessionView",
    "is_session_id",
]

log = logging.getLogger("session_manager.models")

#: Session ids are made by the manager (`uuid4().hex`); nothing else can name a session.
SESSION_ID = r"^[0-9a-f]{32}$"
#: Who a session belongs to: 1-200 of letters, digits and `_ . @ + : -`.
USER_ID = r"^[A-Za-z0-9_.@+:-]{1,200}$"
#: Ten years: longer lifetimes are a mistake (and far ones do not fit a date).
MAX_TTL_SECONDS = 10 * 366 * 86400

_SESSION_ID = re.compile(SESSION_ID)


def _not_a_bool(value: Any) -> Any:
    """JSON `true` is no integer (the schema says so; Python's `bool` is an `int`)."""
    if isinstance(value, bool):
        raise ValueError("an integer is needed, not a boolean")
    return value


#: An integer from a JSON body, where `true` / `false` are refused (`483.0` is taken).
JsonInt = Annotated[int, BeforeValidator(_not_a_bool)]


def is_session_id(value: str) -> bool:
    return _SESSION_ID.match(value) is not None


class CreateSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=USER_ID)
    genes: SessionGenes = Field(
        default_factory=lambda: SessionGenes.model_validate({}),
        description='Processor genes, e.g. {"max_pattern_length": 5}; resource limits at most '
        "the operator's.",
    )
    ttl_seconds: JsonInt | None = Field(
        default=None,
        gt=0,
        le=MAX_TTL_SECONDS,
        description="Delete the session this many seconds after creation (at most 10 years).",
    )


class SessionView(BaseModel):
    session_id: str
    processor_id: str
    user_id: str | None
    status: str
    url: str | None = Field(description="The container's own base URL (None when private).")
    token: str | None = Field(
        description="Bearer token for direct access to `url`: only in the create answer and "
        "`GET /session/{id}`, never in listings."
    )
    created_at: str
    last_activity: str
    expires_at: str | None
    default: bool = Field(
        default=False,
        description="The caller's default session: the one v1 routes at the manager's root "
        "use without `X-Session-ID` (made on first use).",
    )

    @classmethod
    def of(
        cls, record: SessionRecord, last_activity: float | None = None, *, token: bool = True
    ) -> SessionView:
        running = record.status == "running"
        return cls(
            session_id=record.session_id,
            processor_id=record.processor_id,
            user_id=record.user_id,
            status=record.status,
            url=record.url if running else None,
            token=record.token if running and token else None,
            created_at=iso_time(record.created_at),
            last_activity=iso_time(last_activity or record.last_activity),
            expires_at=iso_time(record.expires_at) if record.expires_at is not None else None,
            default=record.default_of is not None,
        )


class SessionList(BaseModel):
    sessions: list[SessionView] = Field(description="One page, oldest first.")
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` for the next page; null on the last page.",
    )

    @classmethod
    def of(
        cls, records: list[tuple[SessionRecord, float]], next_cursor: str | None = None
    ) -> SessionList:
        """Views of `(record, last activity)` pairs; a record that cannot be shown is logged
        and left out, so one bad row never hides the others."""
        views = []
        for record, last_activity in records:
            try:
                views.append(SessionView.of(record, last_activity, token=False))
            except (ValueError, OverflowError, OSError) as exc:
                log.error(
                    "session record cannot be shown: %s",
                    exc,
                    extra={"session_id": record.session_id},
                )
        return cls(sessions=views, next_cursor=next_cursor)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable KATO_* identifier (the README's table of codes).")
    message: str
    details: dict[str, Any] = Field(
        description="Facts about this failure; `trace_id` is the request's W3C trace id."
    )
    timestamp: str = Field(description="When the error was made: UTC, ISO 8601, milliseconds.")


class ErrorBody(BaseModel):
    """Every error answer of the manager (and of the processors it proxies)."""

    error: ErrorDetail
    status: int
