"""One exception tree for everything the client raises, mirroring the services' JSON errors.

Every error carries `status` (the HTTP status, None when no answer came), `code` (the
`KATO_…` code of the body, or one of the client's own: KATO_TIMEOUT, KATO_CONNECTION_FAILED,
KATO_BAD_RESPONSE, KATO_BAD_SIGNATURE), `message` and `details`:

    KatoError
    ├── AuthError            401, 403 (missing or bad API key / user or processor token)
    ├── NotFoundError        404 (session, pattern, gene, route)
    ├── ValidationError      400, 409, 413, 422 (the request was refused as it is)
    ├── UnavailableError     502, 503, 504, connection failures
    │   ├── CapacityError    503 KATO_CAPACITY or KATO_SPAWN_BUSY (`retry_after`: when to retry)
    │   └── KatoTimeoutError no answer within the configured timeout
    ├── RateLimitError       429 KATO_RATE_LIMITED (`retry_after`) or KATO_QUOTA_EXCEEDED
    ├── ProtocolError        an answer that is not what the API documents
    └── WebhookSignatureError  a webhook whose signature does not verify
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "AuthError",
    "CapacityError",
    "KatoError",
    "KatoTimeoutError",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "UnavailableError",
    "ValidationError",
    "WebhookSignatureError",
    "error_for",
    "error_for_code",
    "parse_retry_after",
]

_MAX_MESSAGE = 2000


class KatoError(Exception):
    """Base of every client error; see the module docstring for the tree."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "KATO_ERROR",
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: dict[str, Any] = dict(details or {})
        #: Seconds the server asked us to wait (Retry-After), when it did.
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}"


class AuthError(KatoError):
    """Missing or wrong API key (manager) or token (processor)."""


class NotFoundError(KatoError):
    """No such session, pattern, gene or route."""


class ValidationError(KatoError):
    """The request was refused as it is (bad field, too large, unknown gene)."""


class UnavailableError(KatoError):
    """The service could not serve the request now; trying later may work."""


class CapacityError(UnavailableError):
    """No room for another running session (503 KATO_CAPACITY) or the queue of container
    starts is full (503 KATO_SPAWN_BUSY)."""


class KatoTimeoutError(UnavailableError):
    """No answer within the configured timeout."""


class RateLimitError(KatoError):
    """Over a rate limit (429 KATO_RATE_LIMITED, `retry_after` says when to come back) or
    over the sessions a user may own (429 KATO_QUOTA_EXCEEDED: delete one first)."""


class ProtocolError(KatoError):
    """An answer the client cannot read as the API documents it."""


class WebhookSignatureError(KatoError):
    """A webhook delivery whose X-Kato-Signature does not verify (reject it with 401)."""


_BY_CODE: dict[str, type[KatoError]] = {
    "KATO_CAPACITY": CapacityError,
    "KATO_SPAWN_BUSY": CapacityError,
    "KATO_UNAUTHORIZED": AuthError,
    "KATO_SESSION_NOT_FOUND": NotFoundError,
    "KATO_NOT_FOUND": NotFoundError,
    "KATO_VALIDATION_ERROR": ValidationError,
}


def _class_for(status: int, code: str) -> type[KatoError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status in (400, 409, 413, 422):
        return ValidationError
    if status == 429:
        return RateLimitError
    if status in (502, 503, 504):
        return UnavailableError
    return KatoError


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()[:64]
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_for(status: int, body: bytes, headers: Mapping[str, str]) -> KatoError:
    """The error an HTTP answer stands for, read from the shared JSON error body."""
    code, message = "KATO_HTTP_ERROR", body[:_MAX_MESSAGE].decode(errors="replace")
    details: dict[str, Any] = {}
    try:
        decoded = json.loads(body) if body else None
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        error = decoded["error"]
        code = str(error.get("code") or code)
        message = str(error.get("message") or "")[:_MAX_MESSAGE]
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    elif isinstance(decoded, dict) and "detail" in decoded:  # a plain FastAPI/Starlette error
        message = str(decoded["detail"])[:_MAX_MESSAGE]
    cls = _class_for(status, code)
    retry_after = parse_retry_after(headers.get("retry-after"))
    return cls(message, status=status, code=code, details=details, retry_after=retry_after)


def error_for_code(
    code: str, message: str, *, default: type[KatoError], status: int | None = None
) -> KatoError:
    """An error known by its code, and maybe the HTTP status it stands for (WebSocket close
    frames and error replies)."""
    cls = _class_for(status, code) if status is not None else _BY_CODE.get(code, default)
    return cls(message, status=status, code=code)
