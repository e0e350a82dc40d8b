"""The manager's probes (`session_manager.probes`): the `/health…` paths answer without the
API key and check what their names say; `/ready` keeps its key and its running count."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from container_manager import EngineUnavailableError, FakeBackend, KatoContainerManager
from session_manager.app import create_app
from session_manager.settings import ManagerSettings
from tests.error_bodies import stable

_KEY = {"Authorization": "Bearer k3y"}


@pytest.fixture
def keyed(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(api_key="k3y")


def test_the_probes_answer_without_the_key(keyed: TestClient) -> None:
    answers = {path: keyed.get(path) for path in ("/health/live", "/health/startup")}
    assert {path: a.json() for path, a in answers.items()} == {
        "/health/live": {"status": "live"},
        "/health/startup": {"status": "started"},
    }
    assert keyed.get("/health/ready").json() == {"status": "ready"}  # no count: it is open
    assert keyed.get("/health").json() == {"status": "healthy"}


def test_ready_keeps_its_key_and_its_count(keyed: TestClient) -> None:
    assert keyed.get("/ready").status_code == 401
    assert keyed.get("/ready", headers=_KEY).json() == {"status": "ready", "running": 0}


@pytest.mark.parametrize("path", ["/ready", "/health/ready"])
def test_a_stopped_engine_makes_the_manager_unready_not_dead(
    keyed: TestClient, fake: FakeBackend, path: str
) -> None:
    def unreachable() -> None:
        raise EngineUnavailableError("cannot reach the Docker engine")

    fake.ping = unreachable  # type: ignore[method-assign]
    unready = keyed.get(path, headers=_KEY)
    assert unready.status_code == 503
    assert unready.json()["error"]["code"] == "KATO_NOT_READY"
    assert stable(unready.json())["error"]["details"] == {"cause": "KATO_ENGINE_UNAVAILABLE"}
    assert keyed.get("/health/live").status_code == 200
    assert keyed.get("/health/startup").status_code == 200


def test_before_start_up_only_liveness_answers_200(
    make_settings: Callable[..., ManagerSettings], containers: KatoContainerManager
) -> None:
    client = TestClient(create_app(make_settings(), containers))  # lifespan not run
    assert client.get("/health/live").status_code == 200
    for path in ("/health/startup", "/health/ready"):
        answer = client.get(path)
        assert answer.status_code == 503, path
        assert answer.json()["error"]["message"] == "the manager is starting"
