"""Real-engine fixtures: every container/volume/image made here carries this run's label and
is removed at the end of the session, which then asserts nothing is left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from container_manager import ContainerSettings, KatoContainerManager
from container_manager.testing import image_available, remove_labelled, run_label

IMAGE = "kato:fastapi"


@pytest.fixture(scope="session")
def test_labels() -> Iterator[dict[str, str]]:
    if not image_available(IMAGE):
        pytest.skip(f"image {IMAGE} is absent: build it with `make image` (katoctl build)")
    labels = run_label()
    yield labels
    assert remove_labelled(labels) == []


@pytest.fixture
def settings(test_labels: dict[str, str], tmp_path: Path) -> ContainerSettings:
    return ContainerSettings(
        image=IMAGE,
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
