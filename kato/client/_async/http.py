"""The HTTP round trips, the part of the client that waits: send one `Call` (retrying as the
`RetryPolicy` allows), stream a download, and follow `GET /events`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import httpx

from .._calls import Call, RetryPolicy, Target, build_request, result, transport_error
from .._errors import KatoError, UnavailableError, error_for
from .._models import Event
from .._sse import EventDecoder, events_request, lost

__all__ = ["download", "iter_events", "send"]

T = TypeVar("T")


async def send(http: httpx.AsyncClient, target: Target, call: Call[T], retry: RetryPolicy) -> T:
    """Send `call`, retrying as `retry` allows; raise a `KatoError` on failure."""
    attempt = 1
    while True:
        try:
            return result(call, await http.send(build_request(http, target, call)))
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        except KatoError as error:
            wait = retry.delay(error, attempt, call.idempotent)
            if wait is None:
                raise
        await asyncio.sleep(wait)
        attempt += 1


async def download(
    http: httpx.AsyncClient, target: Target, path: tuple[str, ...]
) -> AsyncIterator[bytes]:
    """`GET path` streamed: the body's chunks as they arrive (an export can be large)."""
    try:
        async with http.stream("GET", target.url(path), headers=target.headers()) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_for(response.status_code, response.content, response.headers)
            async for chunk in response.aiter_bytes():  # noqa: UP028
                yield chunk
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc


async def iter_events(
    http: httpx.AsyncClient, target: Target, after: int | None, follow: bool, retry: RetryPolicy
) -> AsyncIterator[Event]:
    """Yield events after `after` (None: from now on); reconnect after a dropped stream up
    to `retry.attempts` times in a row, waiting 1 s (the stream's `retry:`) in between."""
    decoder, failures = EventDecoder(after), 0
    while True:
        try:
            request = events_request(http, target, decoder.last_id, follow)
            answer = await http.send(request, stream=True)
            try:
                if answer.status_code != 200:
                    await answer.aread()
                    raise error_for(answer.status_code, answer.content, answer.headers)
                failures = 0
                async for line in answer.aiter_lines():
                    event = decoder.feed(line)
                    if event is not None:
                        yield event
            finally:
                await answer.aclose()
            if not follow:
                return
        except (httpx.TransportError, UnavailableError) as exc:
            failures += 1
            if failures >= retry.attempts:
                raise lost(exc) from exc
            await asyncio.sleep(1.0)
