"""What one API call is (method, path, body, how to read the answer, whether it may be
repeated), the retry rule, and the one sync and one async loop that send a call.

Calls are plain values built once (`operations.py`), so the sync and async clients share
every path, body and parser and differ only in how they wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from .errors import KatoError, KatoTimeoutError, ProtocolError, UnavailableError, error_for

__all__ = [
    "DEFAULT_TIMEOUT",
    "async_download",
    "download",
    "Call",
    "RetryPolicy",
    "Target",
    "async_send",
    "send",
]

T = TypeVar("T")

#: Connect quickly; reads may wait for a container to start or a hibernated session to wake
#: (the manager holds such requests until the container answers; KATO_READY_TIMEOUT is 30 s).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)


@dataclass(frozen=True)
class RetryPolicy:
    """When a call is sent again: only after a 503 that carries Retry-After (capacity, a
    container starting), waiting what the server asked, at most `max_wait` seconds each time.

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
        if attempt >= self.attempts or error.status != 503 or error.retry_after is None:
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
        headers = {"Accept": "application/json", **(extra or {})}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        return headers


def _request(
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


def _result(call: Call[T], response: httpx.Response) -> T:
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


def _transport_error(exc: httpx.TransportError) -> KatoError:
    if isinstance(exc, httpx.TimeoutException):
        return KatoTimeoutError(f"no answer in time ({type(exc).__name__})", code="KATO_TIMEOUT")
    return UnavailableError(
        f"could not reach the service ({type(exc).__name__}: {exc})", code="KATO_CONNECTION_FAILED"
    )


def send(http: httpx.Client, target: Target, call: Call[T], retry: RetryPolicy) -> T:
    """Send `call`, retrying as `retry` allows; raise a `KatoError` on failure."""
    attempt = 1
    while True:
        try:
            return _result(call, http.send(_request(http, target, call)))
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        except KatoError as error:
            wait = retry.delay(error, attempt, call.idempotent)
            if wait is None:
                raise
        time.sleep(wait)
        attempt += 1


async def async_send(
    http: httpx.AsyncClient, target: Target, call: Call[T], retry: RetryPolicy
) -> T:
    """The async twin of `send`."""
    attempt = 1
    while True:
        try:
            return _result(call, await http.send(_request(http, target, call)))
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        except KatoError as error:
            wait = retry.delay(error, attempt, call.idempotent)
            if wait is None:
                raise
        await asyncio.sleep(wait)
        attempt += 1


def download(http: httpx.Client, target: Target, path: tuple[str, ...]) -> Iterator[bytes]:
    """`GET path` streamed: the body's chunks as they arrive (an export can be large)."""
    try:
        with http.stream("GET", target.url(path), headers=target.headers()) as response:
            if response.status_code >= 400:
                response.read()
                raise error_for(response.status_code, response.content, response.headers)
            yield from response.iter_bytes()
    except httpx.TransportError as exc:
        raise _transport_error(exc) from exc


async def async_download(
    http: httpx.AsyncClient, target: Target, path: tuple[str, ...]
) -> AsyncIterator[bytes]:
    """The async twin of `download`."""
    try:
        async with http.stream("GET", target.url(path), headers=target.headers()) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_for(response.status_code, response.content, response.headers)
            async for chunk in response.aiter_bytes():
                yield chunk
    except httpx.TransportError as exc:
        raise _transport_error(exc) from exc
