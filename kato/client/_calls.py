"""What one API call is (method, path, body, how to read the answer, whether it may be
repeated), the retry rule, and the steps of sending one that do not wait.

Calls are plain values built once (`_operations.py`), so the async client (`_async/http.py`)
and the sync one generated from it share every path, body and parser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ._errors import KatoError, KatoTimeoutError, ProtocolError, UnavailableError, error_for
from ._trace import trace_headers

__all__ = [
    "DEFAULT_TIMEOUT",
    "POOL_LIMITS",
    "Call",
    "RetryPolicy",
    "Target",
    "TimeoutLike",
    "build_request",
    "result",
    "transport_error",
]

T = TypeVar("T")

#: Connect quickly; reads may wait for a container to start or a hibernated session to wake
#: (the manager holds such requests until the container answers; KATO_READY_TIMEOUT is 30 s).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
TimeoutLike = httpx.Timeout | float
#: Connections kept per client; enough for a thread pool driving many sessions.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


@dataclass(frozen=True)
class RetryPolicy:
    """When a call is sent again: only after a 503 or 429 that carries Retry-After (capacity,
    a container starting, a rate limit), waiting what the server asked, at most `max_wait`
    seconds each time (a quota's 429 has no Retry-After: waiting does not free a place).

    `attempts` counts every try (1 = never retry). Calls that are not idempotent (observe,
    learn, create a session, …) are retried only with `non_idempotent=True`: a 503 from the
    manager means the request never reached the processor, but a proxy in between may not
    say so honestly.
    """

    attempts: int = 4
    max_wait: float = 30.0
    non_idempotent: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 100:
            raise ValueError("attempts must be within 1..100")
        if not 0 <= self.max_wait <= 3600:
            raise ValueError("max_wait must be within 0..3600 seconds")

    def delay(self, error: KatoError, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before try `attempt + 1`, or None to give up and raise `error`."""
        if attempt >= self.attempts or error.status not in (429, 503) or error.retry_after is None:
            return None
        if not (idempotent or self.non_idempotent) or error.retry_after > self.max_wait:
            return None
        return error.retry_after


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request: `path` segments are percent-encoded one by one (ids may hold `|` or `/`)."""

    method: str
    path: tuple[str, ...]
    parse: Callable[[Any], T]
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True
    #: A raw body instead of `json` (bytes, or an iterable of chunks, sent as it is read).
    content: Any = None
    content_type: str | None = None


@dataclass(frozen=True)
class Target:
    """Where calls go: a base URL (manager, `/session/<id>` under it, or a container) and the
    bearer credential it takes (API key or container token)."""

    base_url: httpx.URL
    bearer: str | None = None

    def url(self, path: tuple[str, ...]) -> httpx.URL:
        encoded = "".join("/" + quote(segment, safe="") for segment in path)
        raw = self.base_url.raw_path.split(b"?", 1)[0].rstrip(b"/") + encoded.encode()
        return self.base_url.copy_with(raw_path=raw)

    def under(self, *path: str) -> Target:
        return Target(self.url(path), self.bearer)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", **trace_headers(), **(extra or {})}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        return headers


def build_request(
    http: httpx.Client | httpx.AsyncClient, target: Target, call: Call[Any]
) -> httpx.Request:
    extra = {"Content-Type": call.content_type} if call.content_type else None
    return http.build_request(
        call.method,
        target.url(call.path),
        json=call.json,
        content=call.content,
        params=call.params or None,
        headers=target.headers(extra),
    )


def result(call: Call[T], response: httpx.Response) -> T:
    if response.status_code >= 400:
        raise error_for(response.status_code, response.content, response.headers)
    if response.status_code == 204 or not response.content:
        return call.parse(None)
    try:
        data = response.json()
    except ValueError as exc:
        raise ProtocolError(
            "answer is not JSON", status=response.status_code, code="KATO_BAD_RESPONSE"
        ) from exc
    return call.parse(data)


def transport_error(exc: httpx.TransportError) -> KatoError:
    if isinstance(exc, httpx.TimeoutException):
        return KatoTimeoutError(f"no answer in time ({type(exc).__name__})", code="KATO_TIMEOUT")
    return UnavailableError(
        f"could not reach the service ({type(exc).__name__}: {exc})", code="KATO_CONNECTION_FAILED"
    )
