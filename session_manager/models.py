"""Pydantic models at the HTTP edge of the sessions API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .registry import SessionRecord

__all__ = ["CreateSessionRequest", "SessionList", "SessionView"]


class CreateSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    genes: dict[str, Any] = Field(
        default_factory=dict, description='Processor genes, e.g. {"max_pattern_length": 5}.'
    )
    ttl_seconds: int | None = Field(
        default=None, gt=0, description="Delete the session this many seconds after creation."
    )


class SessionView(BaseModel):
    session_id: str
    processor_id: str
    user_id: str | None
    status: str
    url: str | None = Field(description="The container's own base URL (None when private).")
    token: str | None = Field(description="Bearer token for direct access to `url`.")
    created_at: str
    last_activity: str
    expires_at: str | None

    @classmethod
    def of(cls, record: SessionRecord, last_activity: float | None = None) -> SessionView:
        running = record.status == "running"
        return cls(
            session_id=record.session_id,
            processor_id=record.processor_id,
            user_id=record.user_id,
            status=record.status,
            url=record.url if running else None,
            token=record.token if running else None,
            created_at=_iso(record.created_at),
            last_activity=_iso(last_activity or record.last_activity),
            expires_at=_iso(record.expires_at) if record.expires_at is not None else None,
        )


class SessionList(BaseModel):
    sessions: list[SessionView]


def _iso(when: float) -> str:
    return (
        datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
