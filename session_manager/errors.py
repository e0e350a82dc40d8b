"""The session manager's error hierarchy; each maps to one JSON error body and HTTP status.

Body shape (shared by every KATO service, built by `kato.contract.error_body`):
`{"error": {"code": "KATO_…", "message": "…", "details": {…}}, "status": <http status>}`.
"""

from __future__ import annotations

from typing import Any

from kato.contract import error_body

__all__ = [
    "BadGatewayError",
    "CapacityError",
    "ForbiddenError",
    "OverloadedError",
    "QuotaExceededError",
    "RateLimitedError",
    "SpawnBusyError",
    "PayloadTooLargeError",
    "SessionError",
    "SessionNotFoundError",
    "UnauthorizedError",
    "UpstreamTimeoutError",
    "ValidationFailedError",
]


class SessionError(Exception):
    """Base class: `code`, `status` and optional response `headers` describe the HTTP answer."""

    code = "KATO_INTERNAL_ERROR"
    status = 500

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.status, self.details)


class SessionNotFoundError(SessionError):
    code = "KATO_SESSION_NOT_FOUND"
    status = 404

    @classmethod
    def unknown(cls, session_id: str) -> SessionNotFoundError:
        """"no session <id>", the id cut to 64 characters (it may be anything a client sent)."""
        shown = session_id[:64]
        return cls(f"no session {shown}", {"session_id": shown})


class SessionExpiredError(SessionNotFoundError):
    """The session was deleted because its TTL passed (remembered `KATO_EXPIRED_RETENTION`):
    a kind of unknown session, answered 410 instead of 404."""

    code = "KATO_SESSION_EXPIRED"
    status = 410


class DatabaseError(SessionError):
    """The session registry failed (the database's own words are logged, never answered)."""

    code = "KATO_DATABASE_ERROR"
    status = 503


class CapacityError(SessionError):
    """No room for another running container or spawn; the client should retry later."""

    code = "KATO_CAPACITY"
    status = 503

    def __init__(self, message: str, retry_after: int, details: dict[str, Any] | None = None):
        super().__init__(message, details)
        self.headers = {"Retry-After": str(retry_after)}


class SpawnBusyError(CapacityError):
    """Session slots may be free, but the queue of container starts is full or its wait ran
    out; Retry-After is estimated from that queue."""

    code = "KATO_SPAWN_BUSY"


class BadGatewayError(SessionError):
    """The session's container did not answer (connection refused, reset, timeout)."""

    code = "KATO_PROCESSOR_UNAVAILABLE"
    status = 502


class UpstreamTimeoutError(SessionError):
    """The session's container took longer than its timeout (e.g. a paused container).

    The request may still be applied when the container resumes: the manager never retries
    it, and tells the client the outcome is unknown (504) rather than failed (502).
    """

    code = "KATO_UPSTREAM_TIMEOUT"
    status = 504


class ValidationFailedError(SessionError):
    code = "KATO_VALIDATION_ERROR"
    status = 422


class PayloadTooLargeError(SessionError):
    code = "KATO_PAYLOAD_TOO_LARGE"
    status = 413

    @classmethod
    def body_over(cls, size: int, limit: int) -> PayloadTooLargeError:
        """A request body over `limit` bytes (`size` is not shown: a declared one may lie)."""
        return cls(f"request body larger than {limit} bytes", {"max_body_bytes": limit})


class UnauthorizedError(SessionError):
    code = "KATO_UNAUTHORIZED"
    status = 401


class ForbiddenError(SessionError):
    """A user token asks for what it may not do (a scope it lacks, an operator route, another
    `user_id`); never for another user's session, which is unknown to it (404)."""

    code = "KATO_FORBIDDEN"
    status = 403


class QuotaExceededError(SessionError):
    """A create beyond `KATO_MAX_SESSIONS_PER_USER`; deleting a session makes room."""

    code = "KATO_QUOTA_EXCEEDED"
    status = 429


class RateLimitedError(SessionError):
    """More requests than a rate limit allows; `headers` say when to come back."""

    code = "KATO_RATE_LIMITED"
    status = 429

    def __init__(self, message: str, details: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(message, details)
        self.headers = headers


class OverloadedError(CapacityError):
    """The manager already works on `KATO_SHED_INFLIGHT` requests: new work is refused at once
    rather than making every request slower."""

    code = "KATO_OVERLOADED"
