"""Helpers shared by the session manager unit tests."""

from __future__ import annotations

from starlette.testclient import TestClient

from session_manager.sessions import SessionService

__all__ = ["Clock", "service_of"]


def service_of(client: TestClient) -> SessionService:
    service: SessionService = client.app.state.service  # type: ignore[attr-defined]
    return service


class Clock:
    """A settable clock for the reaper: `clock.now += 120` moves time forward."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
