"""What API clients see when the engine fails under a create: a JSON error in our words, and
nothing left behind (no record, container or volume)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from container_manager import (
    ContainerSettings,
    FakeBackend,
    KatoContainerManager,
    ProcessorStartError,
)
from session_manager.app import create_app
from session_manager.settings import ManagerSettings

_RUNC = "runc create failed: /sys/fs/cgroup/docker/0123456789abcdef/pids.max: invalid argument"


class _RemovedUnderUs(FakeBackend):
    """`docker rm -f` right after start, while the manager waits for readiness."""

    def start(self, container_id: str) -> None:
        super().start(container_id)
        self.vanish(container_id)


class _Refusing(FakeBackend):
    """The engine refuses to start the container, with its usual internals in the reason."""

    def start(self, container_id: str) -> None:
        raise ProcessorStartError("the container engine refused to start it", {}, [_RUNC])


def _create_with(
    backend: FakeBackend, make_settings: Callable[..., ManagerSettings], tmp_path: Path
) -> tuple[TestClient, KatoContainerManager]:
    containers = KatoContainerManager(
        ContainerSettings(state_dir=tmp_path / "state", ready_timeout=0.3),
        backend,
        http_transport=backend.transport(),
    )
    return TestClient(create_app(make_settings(), containers)), containers


def test_engine_failures_under_create_are_clean_json_and_leave_nothing(
    make_settings: Callable[..., ManagerSettings], tmp_path: Path
) -> None:
    for backend in (_RemovedUnderUs(), _Refusing()):
        client, containers = _create_with(backend, make_settings, tmp_path)
        with client:
            answer = client.post("/session/create", json={})
            assert answer.status_code == 502, answer.text
            error = answer.json()["error"]
            assert error["code"] == "KATO_PROCESSOR_START_FAILED"
            assert set(error["details"]) == {"processor_id"}
            assert "runc" not in answer.text and "cgroup" not in answer.text
            assert client.get("/sessions").json()["sessions"] == []
        assert backend.containers == {} and backend.volumes == {}
