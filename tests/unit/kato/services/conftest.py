"""In-process apps on the real engine with an in-memory store (no files, no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kato.processor import KatoProcessor, PatternStore
from kato.processor.store.memory import MemoryStore
from kato.services import lane
from kato.services.app import create_app
from kato.services.settings import ServiceSettings
from tests.unit.kato.services.app_helpers import MakeClient


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """``make_client(store=None, direct_lane=True, **settings)`` → a started TestClient (closed at
    teardown)."""
    clients: list[TestClient] = []

    def make(
        store: PatternStore | None = None, direct_lane: bool = True, **overrides: Any
    ) -> TestClient:
        settings = ServiceSettings(processor_id="unit", **overrides)

        def factory(config: ServiceSettings) -> KatoProcessor:
            return KatoProcessor(config.processor_config(), store or MemoryStore())

        client = TestClient(create_app(settings, factory, direct_lane=direct_lane))
        clients.append(client)
        return client.__enter__()

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


@pytest.fixture
def lane_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the direct lane (kato.services.lane) answered, in order."""
    calls: list[str] = []
    call = lane.DirectLane.call

    async def spy(self: lane.DirectLane, route: Any, scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await call(self, route, scope, receive, send)

    monkeypatch.setattr(lane.DirectLane, "call", spy)
    return calls
