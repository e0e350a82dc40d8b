"""The session manager for real: subprocess on loopback, real containers, real sockets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from container_manager import ContainerSettings, KatoContainerManager
from session_manager.testing import ManagerProcess
from tests.integration.kato.services.replay import load_cases, replay_case
from tests.integration.session_manager.docker_support import (
    containers_of,
    create_session,
    memory_of,
    session_client,
    volumes_of,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.docker

_PROBES = ("/health/live", "/health/ready", "/health/startup")
CASES = ("ex1_single_pattern_prefix", "ex1b_past_present", "autolearn_mpl3", "ex6_vectors")


def test_sessions_isolated_and_reference_cases_through_proxy(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager()
    with manager.client() as http:
        first, second = create_session(http, user_id="a"), create_session(http, user_id="b")
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "running": 2}
        probes = {path: http.get(path).json()["status"] for path in _PROBES}
        assert probes == {"/health/live": "live", "/health/ready": "ready",
                          "/health/startup": "started"}
    with (
        session_client(manager, first["session_id"]) as one,
        session_client(manager, second["session_id"]) as two,
    ):
        one.post("/observe", json={"strings": ["only-in-one"]}).raise_for_status()
        assert one.get("/stm").json()["stm"] == [["only-in-one"]]
        assert two.get("/stm").json()["stm"] == []
        answered = {path: one.get(path).json()["status"] for path in _PROBES}  # the container's
        assert answered == {"/health/live": "live", "/health/ready": "ready",
                            "/health/startup": "started"}
        cases = {case["name"]: case for case in load_cases()}
        for name in CASES:
            assert replay_case(two, cases[name]) == cases[name]["expected"], name


def test_errors_pass_through_unchanged_and_direct_access_needs_the_token(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager()
    with manager.client() as http:
        session = create_session(http)
    bad = {"strings": 5}
    with session_client(manager, session["session_id"]) as proxied:
        through_proxy = proxied.post("/observe", json=bad)
        missing = proxied.get("/pattern/PTRN%7Cnope")
    headers = {"Authorization": f"Bearer {session['token']}"}
    with httpx.Client(base_url=session["url"], timeout=30) as direct:
        assert direct.get("/stm").status_code == 401
        assert direct.get("/stm", headers=headers).json()["stm"] == []
        directly = direct.post("/observe", json=bad, headers=headers)
        direct_missing = direct.get("/pattern/PTRN%7Cnope", headers=headers)
    assert through_proxy.status_code == directly.status_code == 422
    assert through_proxy.json() == directly.json()
    assert missing.status_code == direct_missing.status_code
    assert missing.json() == direct_missing.json()


async def test_websocket_relay(start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager()
    with manager.client() as http:
        session = create_session(http)
    url = f"ws://127.0.0.1:{manager.port}/session/{session['session_id']}/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "observe", "payload": {"strings": ["hello"]}}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "observation_result"
        await ws.send(json.dumps({"type": "get_stm", "payload": {}}))
        assert json.loads(await ws.recv())["data"]["stm"] == [["hello"]]
    async with websockets.connect(url) as ws:
        await ws.send("not json")  # the processor closes with 1011; the relay passes it on
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
    with session_client(manager, session["session_id"]) as proxied:
        assert proxied.get("/stm").json()["stm"] == [["hello"]]


def test_hibernate_and_resume_keep_stm_genes_and_predictions(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager(KATO_IDLE_TIMEOUT="2", KATO_REAP_INTERVAL="0.5")
    with manager.client() as http:
        session = create_session(http, genes={"max_pattern_length": 0})
    sid, pid = session["session_id"], session["processor_id"]
    with session_client(manager, sid) as proxied:
        proxied.post("/genes/update", json={"genes": {"recall_threshold": 0.3}}).raise_for_status()
        for word in ("a", "b", "c"):
            proxied.post("/observe", json={"strings": [word]}).raise_for_status()
        proxied.post("/learn").raise_for_status()
        for word in ("a", "b"):
            proxied.post("/observe", json={"strings": [word]}).raise_for_status()
        before = memory_of(proxied)
    with manager.client() as http:
        wait_for_status(http, sid, "hibernated")
    # removed after the record
    wait_until("its container removed", lambda: containers_of(test_labels, pid) == [])
    assert len(volumes_of(test_labels, pid)) == 1
    with session_client(manager, sid) as proxied:
        assert memory_of(proxied) == before
    with manager.client() as http:
        assert http.get(f"/session/{sid}").json()["status"] == "running"


def test_kill9_restart_recovers_sessions_and_removes_orphans(
    start_manager: Callable[..., ManagerProcess],
    processor_image: str,
    test_labels: dict[str, str],
    tmp_path: Any,
) -> None:
    manager = start_manager()
    with manager.client() as http:
        sessions = [create_session(http) for _ in range(2)]
    for index, session in enumerate(sessions):
        with session_client(manager, session["session_id"]) as proxied:
            proxied.post("/observe", json={"strings": [f"s{index}"]}).raise_for_status()
    manager.kill()

    def outsider(name: str, deployment: str | None) -> KatoContainerManager:
        return KatoContainerManager(
            ContainerSettings(
                image=processor_image,
                state_dir=tmp_path / name,
                name_prefix="kato-smit",
                extra_labels=test_labels,
                deployment=deployment,
                ready_timeout=60,
            )
        )

    # Of this manager's deployment, but no record of it claims the container: an orphan.
    deployment = (manager.state_dir / "deployment").read_text().strip()
    orphan = outsider("unrecorded", deployment).create_processor(session_id="nobody-knows")
    # Another deployment (its own state directory), e.g. `katoctl spawn` elsewhere: not ours.
    foreign = outsider("foreign", None)
    spawned = foreign.create_processor()
    foreign_session = foreign.create_processor(session_id="session-of-another-manager")

    restarted = start_manager()
    for index, session in enumerate(sessions):
        with session_client(restarted, session["session_id"]) as proxied:
            assert proxied.get("/stm").json()["stm"] == [[f"s{index}"]]
    assert containers_of(test_labels, orphan.processor_id) == []
    assert len(volumes_of(test_labels, orphan.processor_id)) == 1  # kept for KATO_ORPHAN_GRACE
    for theirs in (spawned, foreign_session):
        assert len(containers_of(test_labels, theirs.processor_id)) == 1
        assert len(volumes_of(test_labels, theirs.processor_id)) == 1
    assert all(len(containers_of(test_labels, s["processor_id"])) == 1 for s in sessions)


def test_capacity_gives_503(start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager(KATO_MAX_SESSIONS="1")
    with manager.client() as http:
        create_session(http)
        full = http.post("/session/create", json={})
    assert full.status_code == 503
    assert full.json()["error"]["code"] == "KATO_CAPACITY"
    assert int(full.headers["retry-after"]) > 0


def test_delete_removes_container_and_volume(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager()
    with manager.client() as http:
        session = create_session(http)
        pid = session["processor_id"]
        assert len(containers_of(test_labels, pid)) == 1
        assert http.delete(f"/session/{session['session_id']}").status_code == 204
        assert http.get(f"/session/{session['session_id']}").status_code == 404
    assert containers_of(test_labels, pid) == []
    assert volumes_of(test_labels, pid) == []
