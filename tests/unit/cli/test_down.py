"""katoctl down (cli/down.py) in-process against a manager on a FakeBackend: it drains this
deployment's unclaimed warm pool only, only while no manager runs on the state directory, and
`--hibernate` goes through the manager's API first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import cli.manager_api
from cli.main import app
from container_manager import ContainerSettings, KatoContainerManager
from session_manager import state_lock
from tests.unit.cli.test_katoctl import _registry_claiming

runner = CliRunner()


def _ids(manager: KatoContainerManager) -> set[str]:
    return {info.processor_id for info in manager.list_processors()}


def _rows(output: str) -> dict[str, str]:
    """Summary table rows by id (column 2)."""
    cells = [line.split("│") for line in output.splitlines() if line.count("│") >= 4]
    return {row[2].strip(): row[3].strip() for row in cells}


@pytest.fixture
def manager_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A session manager API with one running and one hibernated session, as a MockTransport;
    yields the requests made (method and path)."""
    requests: list[str] = []
    sessions = [
        {"session_id": "a" * 32, "status": "running"},
        {"session_id": "b" * 32, "status": "hibernated"},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.path}")
        assert request.headers.get("authorization") == "Bearer k"
        if request.url.path == "/sessions":
            return httpx.Response(200, json={"sessions": sessions})
        return httpx.Response(200, json={**sessions[0], "status": "hibernated"})

    monkeypatch.setattr(
        cli.manager_api, "make_http", lambda: httpx.Client(transport=httpx.MockTransport(answer))
    )
    yield requests


def test_down_drains_the_unclaimed_pool_and_keeps_everything_else(
    manager: KatoContainerManager, tmp_path: Path
) -> None:
    free = [manager.create_processor(pooled=True) for _ in range(2)]
    claimed = manager.create_processor(pooled=True)
    session = manager.create_processor(session_id="session-1")
    spawned = manager.create_processor()
    neighbour = KatoContainerManager(
        ContainerSettings(state_dir=tmp_path / "neighbour", ready_timeout=0.3),
        manager.backend,
        http_transport=manager.http_transport,
    )
    theirs = neighbour.create_processor(pooled=True)
    _registry_claiming(manager, claimed.processor_id, session.processor_id)

    result = runner.invoke(app, ["down"])

    assert result.exit_code == 0, result.output
    assert _ids(manager) == {claimed.processor_id, session.processor_id, spawned.processor_id}
    assert _ids(neighbour) == {theirs.processor_id}
    assert not manager.backend.find_volumes(  # type: ignore[attr-defined]
        {"kato.processor_id": free[0].processor_id}
    )
    rows = _rows(result.stdout)
    assert all(rows[info.processor_id].startswith("removed") for info in free)
    assert rows[claimed.processor_id].startswith("kept: session session-0")
    assert rows[spawned.processor_id].startswith("kept: not a session's")
    assert theirs.processor_id not in rows
    assert "2 pooled processor(s) removed" in result.stdout
    again = runner.invoke(app, ["down"])
    assert again.exit_code == 0 and "0 pooled processor(s) removed" in again.stdout


def test_down_refuses_without_the_session_registry(manager: KatoContainerManager) -> None:
    pooled = manager.create_processor(pooled=True)
    result = runner.invoke(app, ["down"])
    assert result.exit_code == 1
    assert "no session registry" in result.stderr
    assert _ids(manager) == {pooled.processor_id}


def test_down_refuses_while_a_manager_runs_on_the_state_dir(
    manager: KatoContainerManager,
) -> None:
    pooled = manager.create_processor(pooled=True)
    _registry_claiming(manager)
    with state_lock.shared(manager.settings.state_dir):  # what a running manager holds
        result = runner.invoke(app, ["down"])
    assert result.exit_code == 1
    assert "a session manager runs on KATO_STATE_DIR" in " ".join(result.stderr.split())
    assert _ids(manager) == {pooled.processor_id}


def test_down_hibernate_refuses_when_no_manager_answers(
    manager: KatoContainerManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    monkeypatch.setattr(
        cli.manager_api, "make_http", lambda: httpx.Client(transport=httpx.MockTransport(refused))
    )
    pooled = manager.create_processor(pooled=True)
    _registry_claiming(manager)
    result = runner.invoke(app, ["down", "--hibernate"])
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "--hibernate needs the session manager's API" in message
    assert "nothing was changed" in message
    assert _ids(manager) == {pooled.processor_id}


def test_down_hibernate_hibernates_running_sessions_then_drains(
    manager: KatoContainerManager, manager_api: list[str]
) -> None:
    pooled = manager.create_processor(pooled=True)
    _registry_claiming(manager)
    result = runner.invoke(app, ["down", "--hibernate", "--api-key", "k", "--wait", "0"])
    assert result.exit_code == 0, result.output
    assert manager_api == ["GET /sessions", f"POST /session/{'a' * 32}/hibernate"]
    rows = _rows(result.stdout)
    assert rows["a" * 32] == "hibernated"
    assert rows[pooled.processor_id].startswith("removed")
    assert _ids(manager) == set()


def test_down_hibernate_keeps_the_pool_while_the_manager_still_runs(
    manager: KatoContainerManager, manager_api: list[str]
) -> None:
    pooled = manager.create_processor(pooled=True)
    _registry_claiming(manager)
    with state_lock.shared(manager.settings.state_dir):
        result = runner.invoke(app, ["down", "--hibernate", "--api-key", "k", "--wait", "0"])
    assert result.exit_code == 1
    assert "its pool is kept" in " ".join(result.stderr.split())
    assert manager_api[-1] == f"POST /session/{'a' * 32}/hibernate"
    assert _ids(manager) == {pooled.processor_id}


def test_a_session_that_cannot_be_hibernated_is_reported(
    manager: KatoContainerManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sessions":
            return httpx.Response(
                200, json={"sessions": [{"session_id": "c" * 32, "status": "running"}]}
            )
        body = {"error": {"code": "KATO_SESSION_BUSY", "message": "busy", "details": {}}}
        return httpx.Response(409, content=json.dumps(body))

    monkeypatch.setattr(
        cli.manager_api, "make_http", lambda: httpx.Client(transport=httpx.MockTransport(busy))
    )
    _registry_claiming(manager)
    result = runner.invoke(app, ["down", "--hibernate", "--wait", "0"])
    assert result.exit_code == 1
    assert _rows(result.stdout)["c" * 32].startswith("not hibernated:")
    assert "KATO_SESSION_BUSY: busy" in result.stdout
