"""`GET /events` as an iterator of `Event`s: a Server-Sent Events decoder and the sync and
async loops that reconnect with `Last-Event-ID`, so a dropped connection loses nothing the
manager's backlog still holds."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx

from .calls import RetryPolicy, Target
from .errors import KatoError, UnavailableError, error_for
from .models import Event

__all__ = ["EventDecoder", "aiter_events", "iter_events"]

#: A stream is silent at most KATO_EVENTS_KEEPALIVE (15 s) between keep-alive comments.
STREAM_TIMEOUT = httpx.Timeout(5.0, read=60.0)


class EventDecoder:
    """Feed lines, get `Event`s. `last_id` follows every `id:` field, even on events that
    carry no data (the manager sends its current id first, so resuming is exact)."""

    def __init__(self, last_id: int | None = None) -> None:
        self.last_id = last_id
        self._type = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        if line.startswith(":"):
            return None
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._type = value
            elif name == "id" and value.isdigit():
                self.last_id = int(value)
            return None
        kind, data = self._type, "\n".join(self._data)
        self._type, self._data = "", []
        if not data:
            return None
        payload = json.loads(data)
        if kind == "gap":
            return Event(id=int(payload.get("first_available", 0)) - 1, type="gap")
        return Event.from_dict(payload)


def _request(
    http: httpx.Client | httpx.AsyncClient, target: Target, last_id: int | None, follow: bool
) -> httpx.Request:
    headers = target.headers({"Accept": "text/event-stream"})
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    params = {"follow": "true" if follow else "false"}
    return http.build_request(
        "GET", target.url(("events",)), headers=headers, params=params, timeout=STREAM_TIMEOUT
    )


def iter_events(
    http: httpx.Client, target: Target, after: int | None, follow: bool, retry: RetryPolicy
) -> Iterator[Event]:
    """Yield events after `after` (None: from now on); reconnect after a dropped stream up
    to `retry.attempts` times in a row, waiting 1 s (the stream's `retry:`) in between."""
    decoder, failures = EventDecoder(after), 0
    while True:
        try:
            answer = http.send(_request(http, target, decoder.last_id, follow), stream=True)
            try:
                if answer.status_code != 200:
                    answer.read()
                    raise error_for(answer.status_code, answer.content, answer.headers)
                failures = 0
                for line in answer.iter_lines():
                    event = decoder.feed(line)
                    if event is not None:
                        yield event
            finally:
                answer.close()
            if not follow:
                return
        except (httpx.TransportError, UnavailableError) as exc:
            failures += 1
            if failures >= retry.attempts:
                raise _lost(exc) from exc
            time.sleep(1.0)


async def aiter_events(
    http: httpx.AsyncClient,
    target: Target,
    after: int | None,
    follow: bool,
    retry: RetryPolicy,
) -> AsyncIterator[Event]:
    """The async twin of `iter_events`."""
    decoder, failures = EventDecoder(after), 0
    while True:
        try:
            request = _request(http, target, decoder.last_id, follow)
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
                raise _lost(exc) from exc
            await asyncio.sleep(1.0)


def _lost(exc: Exception) -> KatoError:
    if isinstance(exc, KatoError):
        return exc
    return UnavailableError(
        f"event stream lost: {type(exc).__name__}", code="KATO_CONNECTION_FAILED"
    )
