"""The manager every katoctl test runs against: a FakeBackend behind `cli.main.make_manager`."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli.main
from container_manager import ContainerSettings, FakeBackend, KatoContainerManager


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KatoContainerManager:
    settings = ContainerSettings(state_dir=tmp_path / "state", ready_timeout=0.3)
    fake = FakeBackend()
    manager = KatoContainerManager(settings, fake, http_transport=fake.transport())
    monkeypatch.setattr(cli.main, "make_manager", lambda: manager)
    return manager
