"""The `Backend` contract, one suite that every backend passes: Docker and Swarm on the real
engine, and the in-memory fake the unit tests stand on (so the fake cannot drift from them).

The Swarm run joins the engine to a swarm only when it is not in one, and leaves it afterwards
(`container_manager.testing.swarm_node`). Every workload, secret and volume carries this run's
`kato.test` label and a deployment of its own; the session fixture removes whatever is left.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from container_manager import (
    Backend,
    ContainerSettings,
    FakeBackend,
    ProcessorNotFoundError,
    ProcessorSpec,
    ProcessorStartError,
)
from container_manager.config import parse_config
from container_manager.docker_backend import DockerBackend
from container_manager.readiness import wait_until_ready
from container_manager.spec import build_spec, processor_labels, selector
from container_manager.swarm_backend import SwarmBackend
from container_manager.testing import swarm_node

pytestmark = pytest.mark.docker

_MISSING_IMAGE = "kato-contract-missing:none"


@pytest.fixture(scope="module")
def swarm() -> Iterator[str]:
    with swarm_node() as node_id:
        yield node_id


@pytest.fixture(params=["fake", "docker", "swarm"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "fake":
        return FakeBackend()
    request.getfixturevalue("processor_image")  # skips, saying why, without the image
    if request.param == "swarm":
        request.getfixturevalue("swarm")
        return SwarmBackend()
    return DockerBackend()


@pytest.fixture
def settings(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> ContainerSettings:
    """The run's image and label on a real engine; the fake needs neither."""
    real = not isinstance(backend, FakeBackend)
    return ContainerSettings(
        image=request.getfixturevalue("processor_image") if real else "kato:fastapi",
        state_dir=tmp_path / "state",
        name_prefix="kato-contract",
        extra_labels=request.getfixturevalue("test_labels") if real else {"kato.test": "fake"},
        deployment=f"contract-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def owner(settings: ContainerSettings) -> dict[str, str]:
    return selector(settings)


@pytest.fixture
def spec(backend: Backend, settings: ContainerSettings) -> Iterator[ProcessorSpec]:
    """A processor's spec exactly as the manager builds it; whatever a test leaves is removed."""
    processor_id = f"c{uuid.uuid4().hex[:10]}"
    labels = processor_labels(
        settings, processor_id, session_id="s1", user_id="u1", created_at="2026-01-01T00:00:00Z"
    )
    made = build_spec(
        settings, parse_config({}), processor_id=processor_id, token="t0k3n-" * 6, labels=labels
    )
    yield made
    backend.remove(made.name, made.volume, keep_data=False, owner=selector(settings))


def _transport(backend: Backend) -> httpx.BaseTransport | None:
    """The fake answers HTTP in memory; real workloads on the network."""
    return backend.transport() if isinstance(backend, FakeBackend) else None


def _launch_ready(backend: Backend, spec: ProcessorSpec) -> tuple[str, bool]:
    """Launch, then wait for /health as the manager does; the workload's URL and whether
    its volume was new."""
    launched = backend.launch(spec)
    assert launched.state.address is not None
    url = launched.state.address.url
    wait_until_ready(
        url, timeout=60, is_running=lambda: _running(backend, spec), transport=_transport(backend)
    )
    return url, launched.new_volume


def _running(backend: Backend, spec: ProcessorSpec) -> bool:
    state = backend.inspect(spec.name)
    return state is not None and state.running


def _volume_names(backend: Backend, owner: dict[str, str]) -> set[str]:
    return {volume.name for volume in backend.find_volumes(owner)}


def test_launch_runs_the_spec_and_the_engine_alone_describes_it(
    backend: Backend, spec: ProcessorSpec, owner: dict[str, str]
) -> None:
    url, new_volume = _launch_ready(backend, spec)
    assert new_volume
    with httpx.Client(transport=_transport(backend), timeout=10) as client:
        assert client.get(f"{url}/health").status_code == 200
        assert client.get(f"{url}/stm").status_code == 401  # the token is required
    state = backend.inspect(spec.name)
    assert state is not None and state.running and state.name == spec.name
    assert dict(state.labels).items() >= dict(spec.labels).items()
    assert [found.name for found in backend.find(owner)] == [spec.name]
    assert backend.find({**owner, "kato.session_id": "another"}) == []
    [volume] = backend.find_volumes(owner)
    assert volume.name == spec.volume
    assert volume.labels["kato.processor_id"] == spec.env["PROCESSOR_ID"]


def test_remove_keeping_data_then_relaunch_on_the_same_volume(
    backend: Backend, spec: ProcessorSpec, owner: dict[str, str]
) -> None:
    _launch_ready(backend, spec)
    assert backend.remove(spec.name, spec.volume, keep_data=True, owner=owner)
    assert backend.inspect(spec.name) is None
    assert backend.find(owner) == []
    assert _volume_names(backend, owner) == {spec.volume}
    _, new_volume = _launch_ready(backend, spec)
    assert not new_volume
    assert backend.remove(spec.name, spec.volume, keep_data=False, owner=owner)
    assert backend.inspect(spec.name) is None
    assert _volume_names(backend, owner) == set()
    assert not backend.remove(spec.name, spec.volume, keep_data=False, owner=owner)  # gone


def test_remove_never_touches_what_does_not_carry_the_owner_labels(
    backend: Backend, spec: ProcessorSpec, owner: dict[str, str]
) -> None:
    _launch_ready(backend, spec)
    stranger = {**owner, "kato.deployment": "someone-else"}
    assert not backend.remove(spec.name, spec.volume, keep_data=False, owner=stranger)
    assert _running(backend, spec)
    assert _volume_names(backend, owner) == {spec.volume}


def test_logs_stats_and_ping(backend: Backend, spec: ProcessorSpec) -> None:
    backend.ping()
    _launch_ready(backend, spec)
    assert [line for line in backend.logs(spec.name, tail=50, follow=False) if line]
    stats = backend.stats(spec.name)
    assert stats["memory_bytes"] > 0 and stats["memory_limit_bytes"] > 0
    assert backend.stats("kato-contract-nobody") == {}
    with pytest.raises(ProcessorNotFoundError):
        list(backend.logs("kato-contract-nobody", tail=5, follow=False))


def _failing(backend: Backend, spec: ProcessorSpec) -> ProcessorSpec:
    """The same processor, made to fail at launch: an image that does not exist (the fake
    has no images: its containers exit at start instead)."""
    if isinstance(backend, FakeBackend):
        backend.crash_on_start = True
        return spec
    return replace(spec, image=_MISSING_IMAGE)


def test_a_failed_launch_is_undone_as_a_whole(
    backend: Backend, spec: ProcessorSpec, owner: dict[str, str]
) -> None:
    with pytest.raises(ProcessorStartError) as caught:
        backend.launch(_failing(backend, spec))
    assert caught.value.diagnostics  # what the engine said, for the operator
    assert backend.inspect(spec.name) is None
    assert backend.find(owner) == []
    assert _volume_names(backend, owner) == set()  # the volume it made went too


def test_a_failed_launch_keeps_an_existing_volume(
    backend: Backend, spec: ProcessorSpec, owner: dict[str, str]
) -> None:
    _launch_ready(backend, spec)
    backend.remove(spec.name, spec.volume, keep_data=True, owner=owner)
    with pytest.raises(ProcessorStartError):
        backend.launch(_failing(backend, spec))
    assert backend.inspect(spec.name) is None
    assert _volume_names(backend, owner) == {spec.volume}  # a hibernated processor's data


def test_discard_undoes_a_launch_the_caller_gave_up_on(
    backend: Backend, spec: ProcessorSpec, owner: dict[str, str]
) -> None:
    _launch_ready(backend, spec)
    error = backend.discard(spec, ProcessorStartError("not ready in time"), new_volume=True)
    assert error.message == "not ready in time"
    assert error.diagnostics  # the workload's last log lines
    assert backend.inspect(spec.name) is None
    assert _volume_names(backend, owner) == set()
