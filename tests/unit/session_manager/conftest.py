"""Session manager unit fixtures: the app on a FakeBackend whose containers all answer through
one fake processor server on loopback, driven with Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager
from session_manager.app import create_app
from session_manager.routing import Router
from session_manager.settings import ManagerSettings
from tests.unit.session_manager.fake_processor import FakeProcessor


@pytest.fixture
def processor() -> Iterator[FakeProcessor]:
    server = FakeProcessor()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(processor: FakeProcessor) -> FakeBackend:
    """Every container published on the one fake processor server: the proxy needs sockets."""
    return FakeBackend(port=processor.port)


@pytest.fixture
def containers(tmp_path: Path, fake: FakeBackend) -> KatoContainerManager:
    """The readiness probe asks the fake itself (so `fake.ready` decides); the proxy goes to
    the server."""
    settings = ContainerSettings(
        state_dir=tmp_path / "state", ready_timeout=0.3, extra_labels={"kato.test": "unit"}
    )
    return KatoContainerManager(settings, fake, http_transport=fake.transport())


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., ManagerSettings]:
    def make(**overrides: object) -> ManagerSettings:
        values: dict[str, object] = {
            "state_dir": tmp_path / "state",
            "reap_interval": 3600,
            "reconcile_interval": 3600,
            "idle_timeout": 60,
            # No warm pool unless a test asks: its background starts would change what the
            # engine holds under tests that count containers (test_pool.py has the pool).
            "pool_size": 0,
            **overrides,
        }
        return ManagerSettings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_client(
    make_settings: Callable[..., ManagerSettings], containers: KatoContainerManager
) -> Iterator[Callable[..., TestClient]]:
    """Start the app (lifespan included); several calls simulate manager restarts."""
    clients: list[TestClient] = []

    def make(
        router_of: Callable[[ManagerSettings], Router] | None = None, **overrides: object
    ) -> TestClient:
        """`router_of`: the app's router maker (default: `KATO_ROUTER`'s)."""
        client = TestClient(create_app(make_settings(**overrides), containers, router_of))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
