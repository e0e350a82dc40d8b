"""Real services over loopback: fixtures start uvicorn subprocesses and stop every one of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kato.services.testing import ServiceProcess
from tests.integration.kato.services.launcher import Launcher
from tests.integration.kato.services.replay import reset


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    services = Launcher(tmp_path)
    yield services
    services.stop_all()


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    services = Launcher(tmp_path_factory.mktemp("services"))
    yield services
    services.stop_all()


@pytest.fixture(scope="module")
def shared_service(module_launcher: Launcher) -> ServiceProcess:
    """One default service per test module; the ``client`` fixture resets it for each test."""
    return module_launcher.start(processor_id="shared")


@pytest.fixture
def client(shared_service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_service.url, timeout=30) as http:
        reset(http)
        yield http
