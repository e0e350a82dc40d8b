"""Real-engine fixtures for the session manager, on the shared image and run label."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from container_manager.testing import remove_labelled
from session_manager.testing import ManagerProcess

# The reference-case replay helper of the processor service tests is reused as is.
sys.path.insert(0, str(Path(__file__).parents[1] / "kato" / "services"))


@pytest.fixture
def start_manager(
    processor_image: str, test_labels: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., ManagerProcess]]:
    """Start a manager on `tmp_path/<state>` (default `state`: a restart on the same state); extra
    KATO_* settings as keyword arguments. Each state directory is its own deployment."""
    started: list[ManagerProcess] = []

    def start(state: str = "state", **env: str) -> ManagerProcess:
        manager = ManagerProcess(tmp_path / state, test_labels, KATO_IMAGE=processor_image, **env)
        started.append(manager.start())
        return manager

    yield start
    for manager in started:
        manager.stop()
    remove_labelled(test_labels)
