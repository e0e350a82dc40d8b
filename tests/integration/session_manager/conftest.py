"""Real-engine fixtures for the session manager: every container and volume made here carries
this run's label; the end of the session removes them all and asserts nothing is left."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from container_manager.testing import image_available, remove_labelled, run_label
from session_manager.testing import ManagerProcess

IMAGE = "kato:fastapi"

# The reference-case replay helper of the processor service tests is reused as is.
sys.path.insert(0, str(Path(__file__).parents[1] / "kato" / "services"))


@pytest.fixture(scope="session")
def test_labels() -> Iterator[dict[str, str]]:
    if not image_available(IMAGE):
        pytest.skip(f"image {IMAGE} is absent: build it with `make image` (katoctl build)")
    labels = run_label()
    yield labels
    assert remove_labelled(labels) == []


@pytest.fixture
def start_manager(
    test_labels: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., ManagerProcess]]:
    """Start a manager on `tmp_path/state`; extra KATO_* settings as keyword arguments."""
    started: list[ManagerProcess] = []

    def start(**env: str) -> ManagerProcess:
        manager = ManagerProcess(tmp_path / "state", test_labels, KATO_IMAGE=IMAGE, **env)
        started.append(manager.start())
        return manager

    yield start
    for manager in started:
        manager.stop()
    remove_labelled(test_labels)
