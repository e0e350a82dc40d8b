"""Real-engine fixtures for the container manager, on the shared image and run label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from container_manager import ContainerSettings, KatoContainerManager


@pytest.fixture
def settings(
    processor_image: str, test_labels: dict[str, str], tmp_path: Path
) -> ContainerSettings:
    return ContainerSettings(
        image=processor_image,
        state_dir=tmp_path / "state",
        name_prefix="kato-it",
        extra_labels=test_labels,
        ready_timeout=60,
    )


@pytest.fixture
def manager(settings: ContainerSettings) -> Iterator[KatoContainerManager]:
    manager = KatoContainerManager(settings)
    yield manager
    for info in manager.list_processors():
        manager.remove_processor(info.processor_id)
