"""`GET /events` as Server-Sent Events: the decoder and the request of the loop that reads them
(`iter_events` in `_async/http.py`), which reconnects with `Last-Event-ID`, so a dropped
connection loses nothing the manager's backlog still holds."""

from __future__ import annotations

import json

import httpx

from ._calls import Target
from ._errors import KatoError, UnavailableError
from ._models import Event

__all__ = ["STREAM_TIMEOUT", "EventDecoder", "events_request", "lost"]

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


def events_request(
    http: httpx.Client | httpx.AsyncClient, target: Target, last_id: int | None, follow: bool
) -> httpx.Request:
    headers = target.headers({"Accept": "text/event-stream"})
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    params = {"follow": "true" if follow else "false"}
    return http.build_request(
        "GET", target.url(("events",)), headers=headers, params=params, timeout=STREAM_TIMEOUT
    )


def lost(exc: Exception) -> KatoError:
    if isinstance(exc, KatoError):
        return exc
    return UnavailableError(
        f"event stream lost: {type(exc).__name__}", code="KATO_CONNECTION_FAILED"
    )
