"""The session manager for real: subprocess on loopback, real containers, real sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import docker
import httpx
import pytest
import websockets
from svc_replay import load_cases, replay_case

from container_manager import ContainerSettings, KatoContainerManager
from session_manager.testing import ManagerProcess

pytestmark = pytest.mark.docker

CASES = ("ex1_single_pattern_prefix", "ex1b_past_present", "autolearn_mpl3", "ex6_vectors")


def _create(http: httpx.Client, **body: object) -> dict[str, Any]:
    answer = http.post("/session/create", json=body)
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _session(manager: ManagerProcess, session_id: str) -> httpx.Client:
    return httpx.Client(base_url=f"{manager.url}/session/{session_id}", timeout=120)


def _containers(labels: dict[str, str], processor_id: str | None = None) -> list[Any]:
    wanted = {**labels, **({"kato.processor_id": processor_id} if processor_id else {})}
    filters: dict[str, Any] = {"label": [f"{k}={v}" for k, v in wanted.items()]}
    engine = docker.from_env()
    try:
        return list(engine.containers.list(all=True, filters=filters))
    finally:
        engine.close()


def _volumes(labels: dict[str, str], processor_id: str) -> list[Any]:
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    engine = docker.from_env()
    try:
        return [v for v in engine.volumes.list(filters=filters) if processor_id in v.name]
    finally:
        engine.close()


def test_sessions_isolated_and_reference_cases_through_proxy(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager()
    with manager.client() as http:
        first, second = _create(http, user_id="a"), _create(http, user_id="b")
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "running": 2}
    with (
        _session(manager, first["session_id"]) as one,
        _session(manager, second["session_id"]) as two,
    ):
        one.post("/observe", json={"strings": ["only-in-one"]}).raise_for_status()
        assert one.get("/stm").json()["stm"] == [["only-in-one"]]
        assert two.get("/stm").json()["stm"] == []
        cases = {case["name"]: case for case in load_cases()}
        for name in CASES:
            assert replay_case(two, cases[name]) == cases[name]["expected"], name


def test_errors_pass_through_unchanged_and_direct_access_needs_the_token(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager()
    with manager.client() as http:
        session = _create(http)
    bad = {"strings": 5}
    with _session(manager, session["session_id"]) as proxied:
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
        session = _create(http)
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
    with _session(manager, session["session_id"]) as proxied:
        assert proxied.get("/stm").json()["stm"] == [["hello"]]


def test_hibernate_and_resume_keep_stm_genes_and_predictions(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager(KATO_IDLE_TIMEOUT="2", KATO_REAP_INTERVAL="0.5")
    with manager.client() as http:
        session = _create(http, genes={"max_pattern_length": 0})
    sid, pid = session["session_id"], session["processor_id"]
    with _session(manager, sid) as proxied:
        proxied.post("/genes/update", json={"genes": {"recall_threshold": 0.3}}).raise_for_status()
        for word in ("a", "b", "c"):
            proxied.post("/observe", json={"strings": [word]}).raise_for_status()
        proxied.post("/learn").raise_for_status()
        for word in ("a", "b"):
            proxied.post("/observe", json={"strings": [word]}).raise_for_status()
        before = _snapshot(proxied)
    with manager.client() as http:
        _wait_for_status(http, sid, "hibernated")
    _wait_until(lambda: _containers(test_labels, pid) == [])  # removed after the record
    assert len(_volumes(test_labels, pid)) == 1
    with _session(manager, sid) as proxied:
        assert _snapshot(proxied) == before
    with manager.client() as http:
        assert http.get(f"/session/{sid}").json()["status"] == "running"


def _snapshot(proxied: httpx.Client) -> dict[str, Any]:
    return {
        "stm": proxied.get("/stm").json()["stm"],
        "recall_threshold": proxied.get("/gene/recall_threshold").json()["gene_value"],
        "predictions": proxied.get("/predictions").json()["predictions"],
    }


def _wait_for_status(http: httpx.Client, session_id: str, status: str) -> None:
    _wait_until(lambda: http.get(f"/session/{session_id}").json()["status"] == status)


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within 60 s")
        time.sleep(0.2)


def test_kill9_restart_recovers_sessions_and_removes_orphans(
    start_manager: Callable[..., ManagerProcess],
    processor_image: str,
    test_labels: dict[str, str],
    tmp_path: Any,
) -> None:
    manager = start_manager()
    with manager.client() as http:
        sessions = [_create(http) for _ in range(2)]
    for index, session in enumerate(sessions):
        with _session(manager, session["session_id"]) as proxied:
            proxied.post("/observe", json={"strings": [f"s{index}"]}).raise_for_status()
    manager.kill9()

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
        with _session(restarted, session["session_id"]) as proxied:
            assert proxied.get("/stm").json()["stm"] == [[f"s{index}"]]
    assert _containers(test_labels, orphan.processor_id) == []
    assert len(_volumes(test_labels, orphan.processor_id)) == 1  # kept for KATO_ORPHAN_GRACE
    for theirs in (spawned, foreign_session):
        assert len(_containers(test_labels, theirs.processor_id)) == 1
        assert len(_volumes(test_labels, theirs.processor_id)) == 1
    assert all(len(_containers(test_labels, s["processor_id"])) == 1 for s in sessions)


def test_capacity_gives_503(start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager(KATO_MAX_SESSIONS="1")
    with manager.client() as http:
        _create(http)
        full = http.post("/session/create", json={})
    assert full.status_code == 503
    assert full.json()["error"]["code"] == "KATO_CAPACITY"
    assert int(full.headers["retry-after"]) > 0


def test_delete_removes_container_and_volume(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager()
    with manager.client() as http:
        session = _create(http)
        pid = session["processor_id"]
        assert len(_containers(test_labels, pid)) == 1
        assert http.delete(f"/session/{session['session_id']}").status_code == 204
        assert http.get(f"/session/{session['session_id']}").status_code == 404
    assert _containers(test_labels, pid) == []
    assert _volumes(test_labels, pid) == []
