"""What API clients see when the engine fails: a JSON error in our words, one answer per error
class whatever the path (session_manager/engine_errors.py), and, under a create, nothing left
behind (no record, container or volume)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from container_manager import (
    ConfigValidationError,
    ContainerManagerError,
    ContainerSettings,
    EngineError,
    EngineUnavailableError,
    FakeBackend,
    KatoContainerManager,
    ProcessorNotFoundError,
    ProcessorStartError,
)
from session_manager.app import create_app
from session_manager.engine_errors import as_session_error
from session_manager.errors import error_body
from session_manager.settings import ManagerSettings
from tests.error_bodies import stable
from tests.unit.session_manager.support import service_of

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
            assert set(error["details"]) - {"trace_id"} == {"processor_id"}
            assert "runc" not in answer.text and "cgroup" not in answer.text
            assert client.get("/sessions").json()["sessions"] == []
        assert backend.containers == {} and backend.volumes == {}


# -- one answer per error, whatever the path (session_manager/engine_errors.py) ---------------

_DAEMON = "Error response from daemon: cannot connect to /var/run/docker.sock (container 0a1b2c)"

#: Every class the container manager raises (engine words where a backend puts them) and the
#: one answer it gets: status, message, details shown.
_ANSWERED: list[tuple[ContainerManagerError, int, str, dict[str, Any]]] = [
    (
        ConfigValidationError("invalid processor config", {"errors": ["max_pattern_length: > 0"]}),
        422,
        "invalid processor config",
        {"errors": ["max_pattern_length: > 0"]},
    ),
    (
        ProcessorStartError(
            f"processor p1 did not start: {_RUNC}", {"processor_id": "p1"}, [_RUNC]
        ),
        502,
        "the session's container could not be started",
        {"processor_id": "p1"},
    ),
    (
        EngineUnavailableError(_DAEMON, {"errno": 13}),
        503,
        "the container engine is unavailable",
        {},
    ),
    (
        EngineError(
            "the container engine refused to list containers", {"said": _DAEMON}, [_DAEMON]
        ),
        503,
        "the container engine failed (see the manager's log)",
        {},
    ),
    (  # the session exists and a retry succeeds: not a 404 (see test_a_vanished_processor…)
        ProcessorNotFoundError(f"no processor p1 ({_DAEMON})", {"processor_id": "p1"}),
        503,
        "the container engine failed (see the manager's log)",
        {"processor_id": "p1"},
    ),
    (
        ContainerManagerError(_DAEMON, {"status": "dead", "container_id": "0a1b2c"}),
        503,
        "the container engine failed (see the manager's log)",
        {"status": "dead"},
    ),
]
_IDS = [type(error).__name__ for error, *_ in _ANSWERED]


def _expected(error: ContainerManagerError, status: int, message: str, details: Any) -> Any:
    return stable(error_body(error.code, message, status, details), in_request=False)


@pytest.mark.parametrize(("error", "status", "message", "details"), _ANSWERED, ids=_IDS)
def test_each_error_has_one_answer_in_our_words_and_its_engine_text_is_logged(
    error: ContainerManagerError,
    status: int,
    message: str,
    details: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = as_session_error(error)
    assert stable(answer.body(), in_request=False) == _expected(error, status, message, details)
    assert "docker.sock" not in json.dumps(answer.body()) and "runc" not in answer.message
    assert error.message in caplog.text  # what the engine said is the operator's


@pytest.mark.parametrize("path", ["create", "hibernate", "proxied wake", "websocket wake"])
@pytest.mark.parametrize(("error", "status", "message", "details"), _ANSWERED, ids=_IDS)
def test_the_same_error_gets_the_same_answer_on_every_path(
    path: str,
    error: ContainerManagerError,
    status: int,
    message: str,
    details: dict[str, Any],
    client: TestClient,
    containers: KatoContainerManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The paths that used to answer differently: a create (its spawn path mapped errors
    itself), a hibernation (the app's handler: 503 for all), a wake over HTTP (either, by
    where the engine failed) and over a WebSocket (a second `except`)."""

    expected = (status, _expected(error, status, message, details))

    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    if path == "create":
        monkeypatch.setattr(containers, "create_processor", fail)
        answer = client.post("/session/create", json={})
        assert (answer.status_code, stable(answer.json())) == expected
        assert client.get("/sessions").json()["sessions"] == []
        return
    session_id = client.post("/session/create", json={}).json()["session_id"]
    if path == "hibernate":
        monkeypatch.setattr(containers, "remove_processor", fail)
        answer = client.post(f"/session/{session_id}/hibernate")
    else:
        service_of(client).routes.pop(session_id)  # the next use must wake it
        monkeypatch.setattr(containers, "get_processor", lambda *_a, **_k: None)
        monkeypatch.setattr(containers, "create_processor", fail)
        if path == "websocket wake":
            with client.websocket_connect(f"/session/{session_id}/ws") as ws:
                closed = ws.receive()
            assert (closed["code"], closed["reason"]) == (1011, error.code)
            return
        answer = client.get(f"/session/{session_id}/stm")
    assert (answer.status_code, stable(answer.json())) == expected


def test_a_vanished_processor_is_a_503_and_the_retry_succeeds(
    client: TestClient, containers: KatoContainerManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its container and volume removed behind the manager's back while it hibernates the
    session: the snapshot is saved, so the session is not lost (a 404 would say it is) and
    asking again answers it hibernated."""
    session_id = client.post("/session/create", json={}).json()["session_id"]

    def vanished(processor_id: str, **_kwargs: object) -> None:
        raise ProcessorNotFoundError(f"no processor {processor_id}", {"processor_id": processor_id})

    monkeypatch.setattr(containers, "remove_processor", vanished)
    answer = client.post(f"/session/{session_id}/hibernate")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "KATO_PROCESSOR_NOT_FOUND"
    again = client.post(f"/session/{session_id}/hibernate")
    assert (again.status_code, again.json()["status"]) == (200, "hibernated")


def test_a_websocket_whose_wake_fails_to_start_closes_with_1011(
    client: TestClient, fake: FakeBackend
) -> None:
    """As kato.client's stream expects of a failed wake (it closed with 4502 before)."""
    session_id = client.post("/session/create", json={}).json()["session_id"]
    assert client.post(f"/session/{session_id}/hibernate").json()["status"] == "hibernated"
    fake.crash_on_start = True
    with client.websocket_connect(f"/session/{session_id}/ws") as ws:
        closed = ws.receive()
    assert closed == {
        "type": "websocket.close",
        "code": 1011,
        "reason": "KATO_PROCESSOR_START_FAILED",
    }
    assert client.get(f"/session/{session_id}").json()["status"] == "hibernated"  # as it was
