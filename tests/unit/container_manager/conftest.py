"""Fixtures for container_manager unit tests: a manager on a FakeBackend and a temp state dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager
from tests.unit.container_manager.support import on_fake


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def settings(tmp_path: Path) -> ContainerSettings:
    return ContainerSettings(
        state_dir=tmp_path / "state", ready_timeout=0.3, extra_labels={"kato.test": "unit"}
    )


@pytest.fixture
def manager(settings: ContainerSettings, fake: FakeBackend) -> KatoContainerManager:
    return on_fake(settings, fake)
