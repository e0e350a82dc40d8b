"""Fixtures every real-engine suite shares: the processor image, this run's label, a container
manager on them (`settings`, `manager`), `start_manager` (a real session manager process on
loopback) and `postgres_server` (a real PostgreSQL cluster on loopback, one per test run).

Every container, volume and image a test makes carries the run's `kato.test` label; the end
of the session removes them all and asserts nothing is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from container_manager import ContainerSettings, KatoContainerManager
from container_manager.build.image import DEFAULT_TAG
from container_manager.testing import image_available, remove_labelled, run_label
from kato.testing.postgres import PostgresServer, find_binaries
from session_manager.testing import ManagerProcess


@pytest.fixture(scope="session")
def processor_image() -> str:
    """The image `make image` builds (or `KATO_TEST_IMAGE`, for a tree built under another tag);
    without it the real-engine tests skip and say why."""
    tag = os.environ.get("KATO_TEST_IMAGE", DEFAULT_TAG)
    if not image_available(tag):
        pytest.skip(f"image {tag} is absent: build it with `katoctl build --tag {tag}`")
    return tag


@pytest.fixture(scope="session")
def test_labels(processor_image: str) -> Iterator[dict[str, str]]:
    labels = run_label()
    yield labels
    assert remove_labelled(labels) == []


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
    """A container manager on the run's label; what the test left running is removed."""
    manager = KatoContainerManager(settings)
    yield manager
    for info in manager.list_processors():
        manager.remove_processor(info.processor_id)


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the run (initdb in a temporary directory, stopped and removed
    at the end); a test takes its own database (`create_database`) and drops it. Without server
    binaries the tests skip and say how to install them, except under CI, where it fails."""
    binaries = find_binaries()
    if binaries is None:
        reason = "no PostgreSQL server (initdb, pg_ctl): run scripts/ensure-postgres.sh " \
                 "(make integration does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must test the PostgreSQL store: {reason}")
        pytest.skip(reason)
    with PostgresServer(binaries) as server:
        yield server
