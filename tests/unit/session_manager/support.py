"""Helpers shared by the session manager unit tests."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

from session_manager.sessions import SessionService

__all__ = ["Clock", "backlog", "events_of", "listening_trap", "service_of", "sse_frames"]


def service_of(client: TestClient) -> SessionService:
    service: SessionService = client.app.state.service  # type: ignore[attr-defined]
    return service


class Clock:
    """A settable clock for the reaper: `clock.now += 120` moves time forward."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def backlog(client: TestClient, **headers: str) -> list[dict[str, Any]]:
    """Every SSE frame of a non-following stream, as {"id", "event", "data"} dicts."""
    answer = client.get("/events", params={"after": 0, "follow": "false"}, headers=headers)
    return sse_frames(answer.text)


def sse_frames(text: str) -> list[dict[str, Any]]:
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = json.loads(value) if name == "data" else value
        if "data" in fields:
            frames.append(fields)
    return frames


def events_of(client: TestClient) -> list[dict[str, Any]]:
    return [frame["data"] for frame in backlog(client) if frame.get("event") != "gap"]


@contextmanager
def listening_trap() -> Iterator[socket.socket]:
    """A loopback listener nothing may connect to (a hostile path's target); non-blocking,
    so `accept()` raises `BlockingIOError` while no one did."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        yield sock
