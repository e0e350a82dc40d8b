"""The client against the in-process apps, served by uvicorn on loopback in a thread:
the processor service on the real engine (memory store), and the session manager on a
FakeBackend whose containers all answer through one fake processor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager
from kato.processor import KatoProcessor
from kato.processor.store.memory import MemoryStore
from kato.services.app import create_app as create_service
from kato.services.settings import ServiceSettings
from kato.web.launcher import ThreadServer
from session_manager.app import create_app as create_manager
from session_manager.settings import ManagerSettings
from tests.unit.kato.client.support import TOKEN, flavour  # noqa: F401  (fixture: sync and async)
from tests.unit.session_manager.fake_processor import FakeProcessor


@pytest.fixture
def service() -> Iterator[ThreadServer]:
    """The real processor service (memory store), with a bearer token."""
    settings = ServiceSettings(processor_id="client-unit", KATO_PROCESSOR_TOKEN=TOKEN)

    def factory(config: ServiceSettings) -> KatoProcessor:
        return KatoProcessor(config.processor_config(), MemoryStore())

    with ThreadServer(create_service(settings, factory), timeout_graceful_shutdown=1) as served:
        yield served


@pytest.fixture
def fake_processor() -> Iterator[FakeProcessor]:
    server = FakeProcessor()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_manager(
    fake_processor: FakeProcessor, tmp_path: Path
) -> Iterator[Callable[..., ThreadServer]]:
    """`make_manager(**settings)` serves a manager app; FakeBackend containers all answer
    through `fake_processor`. Stopped at the end of the test."""
    backend = FakeBackend(port=fake_processor.port)
    containers = KatoContainerManager(
        ContainerSettings(state_dir=tmp_path / "state", ready_timeout=0.3),
        backend,
        http_transport=backend.transport(),
    )
    served: list[ThreadServer] = []

    def make(**overrides: Any) -> ThreadServer:
        settings = {
            "state_dir": tmp_path / "state",
            "reap_interval": 3600,
            "reconcile_interval": 3600,
            "events_keepalive": 0.2,
            **overrides,
        }
        app = ThreadServer(
            create_manager(ManagerSettings(**settings), containers), timeout_graceful_shutdown=1
        )
        served.append(app.__enter__())
        return app

    yield make
    for app in reversed(served):
        app.__exit__()


@pytest.fixture
def manager(make_manager: Callable[..., ThreadServer]) -> ThreadServer:
    return make_manager()
