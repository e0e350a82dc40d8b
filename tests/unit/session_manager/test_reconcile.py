"""Reconcile and start-up clean-up on a FakeBackend: the one orphan rule, deployments that
never touch each other, paused containers left alone, ghosts of unfinished creates removed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager
from session_manager.app import create_app
from session_manager.reconcile import reconcile
from session_manager.registry import SessionRecord, SessionRegistry
from session_manager.settings import ManagerSettings
from tests.unit.session_manager.support import service_of


def _create(client: TestClient) -> dict[str, Any]:
    response = client.post("/session/create", json={})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_orphans_follow_the_one_rule_and_spawned_processors_stay(
    client: TestClient, containers: KatoContainerManager, fake: FakeBackend
) -> None:
    session = _create(client)
    orphan = containers.create_processor(session_id="no-such-session")  # the registry: no
    spawned = containers.create_processor()  # katoctl spawn on this deployment: no session
    report = client.portal.call(reconcile, service_of(client))  # type: ignore[union-attr]
    assert report.orphans_removed == [orphan.container_id]
    assert fake.container_for(orphan.processor_id) is None
    assert f"kato-data-{orphan.processor_id}" in fake.volumes  # kept for KATO_ORPHAN_GRACE
    assert fake.container_for(spawned.processor_id) is not None
    assert fake.container_for(session["processor_id"]) is not None


def test_two_managers_with_default_settings_on_one_engine_keep_every_session(
    make_settings: Callable[..., ManagerSettings], fake: FakeBackend, tmp_path: Path
) -> None:
    clients: list[TestClient] = []
    for name in ("one", "two"):
        state = tmp_path / name
        manager = KatoContainerManager(
            ContainerSettings(state_dir=state, ready_timeout=0.3, orphan_grace=0),
            fake,
            http_transport=fake.transport(),
        )
        client = TestClient(create_app(make_settings(state_dir=state), manager))
        client.__enter__()
        clients.append(client)
    try:
        sessions = [[_create(client) for _ in range(2)] for client in clients]
        for _ in range(2):  # grace 0: a second pass would remove any volume the first marked
            for client in clients:
                report = client.portal.call(reconcile, service_of(client))  # type: ignore[union-attr]
                assert (report.orphans_removed, report.vanished) == ([], [])
        for client, own in zip(clients, sessions, strict=True):
            for session in own:
                assert client.get(f"/session/{session['session_id']}/stm").status_code == 200
                assert fake.container_for(session["processor_id"]) is not None
                assert f"kato-data-{session['processor_id']}" in fake.volumes
    finally:
        for client in clients:
            client.__exit__(None, None, None)


def test_a_paused_container_is_not_vanished(client: TestClient, fake: FakeBackend) -> None:
    session = _create(client)
    container = fake.container_for(session["processor_id"])
    assert container is not None
    fake.pause(container.container_id)
    report = client.portal.call(reconcile, service_of(client))  # type: ignore[union-attr]
    assert report.vanished == [] and report.suspended == [session["session_id"]]
    assert fake.containers.get(container.container_id) is container
    assert client.get(f"/session/{session['session_id']}").json()["status"] == "running"


def test_start_up_removes_ghosts_of_creates_that_never_finished(
    make_settings: Callable[..., ManagerSettings],
    containers: KatoContainerManager,
    fake: FakeBackend,
) -> None:
    first = TestClient(create_app(make_settings(), containers))
    first.__enter__()
    acknowledged = _create(first)
    first.__exit__(None, None, None)
    # What `kill -9` during a create leaves: a `starting` record, its container and volume.
    now = time.time()
    ghost = SessionRecord("ghost", "0123456789ab", None, "starting", now, now)
    registry = SessionRegistry(make_settings().registry_path)
    registry.put(ghost)
    registry.close()
    containers.create_processor(session_id="ghost", processor_id=ghost.processor_id)

    second = TestClient(create_app(make_settings(), containers))
    second.__enter__()
    try:
        assert second.get("/session/ghost").status_code == 404
        assert fake.container_for(ghost.processor_id) is None
        assert f"kato-data-{ghost.processor_id}" not in fake.volumes
        sid = acknowledged["session_id"]
        assert second.get(f"/session/{sid}/stm").status_code == 200
    finally:
        second.__exit__(None, None, None)
