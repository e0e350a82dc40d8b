# GENERATED from _async/http.py by scripts/unasync.py: edit that file, then run
# `python scripts/unasync.py` (make lint checks that this file is current).
"""The HTTP round trips, the part of the client that waits: send one `Call` (retrying as the
`RetryPolicy` allows), stream a download, and follow `GET /events`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TypeVar

import httpx

from .._calls import Call, RetryPolicy, Target, build_request, result, transport_error
from .._errors import KatoError, UnavailableError, error_for
from .._models import Event
from .._sse import EventDecoder, events_request, lost

__all__ = ["download", "iter_events", "send"]

T = TypeVar("T")


def send(http: httpx.Client, target: Target, call: Call[T], retry: RetryPolicy) -> T:
    """Send `call`, retrying as `retry` allows; raise a `KatoError` on failure."""
    attempt = 1
    while True:
        try:
            return result(call, http.send(build_request(http, target, call)))
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        except KatoError as error:
            wait = retry.delay(error, attempt, call.idempotent)
            if wait is None:
                raise
        time.sleep(wait)
        attempt += 1


def download(
    http: httpx.Client, target: Target, path: tuple[str, ...]
) -> Iterator[bytes]:
    """`GET path` streamed: the body's chunks as they arrive (an export can be large)."""
    try:
        with http.stream("GET", target.url(path), headers=target.headers()) as response:
            if response.status_code >= 400:
                response.read()
                raise error_for(response.status_code, response.content, response.headers)
            for chunk in response.iter_bytes():  # noqa: UP028
                yield chunk
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc


def iter_events(
    http: httpx.Client, target: Target, after: int | None, follow: bool, retry: RetryPolicy
) -> Iterator[Event]:
    """Yield events after `after` (None: from now on); reconnect after a dropped stream up
    to `retry.attempts` times in a row, waiting 1 s (the stream's `retry:`) in between."""
    decoder, failures = EventDecoder(after), 0
    while True:
        try:
            request = events_request(http, target, decoder.last_id, follow)
            answer = http.send(request, stream=True)
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
                raise lost(exc) from exc
            time.sleep(1.0)
