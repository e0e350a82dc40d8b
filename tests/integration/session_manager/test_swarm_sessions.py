"""The session manager with `KATO_BACKEND=swarm` on a real one-node swarm: the manager runs on
the host (as `katoctl up` on a manager node does) and reaches processors on their host-mode
published ports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
import websockets

from container_manager.testing import swarm_node
from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import (
    create_session,
    memory_of,
    session_client,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def swarm() -> Iterator[str]:
    with swarm_node() as node_id:
        yield node_id


def _services(labels: dict[str, str], processor_id: str) -> list[Any]:
    wanted = {**labels, "kato.processor_id": processor_id}
    engine = docker.from_env()
    try:
        return list(
            engine.services.list(filters={"label": [f"{k}={v}" for k, v in wanted.items()]})
        )
    finally:
        engine.close()


async def test_sessions_on_swarm_proxy_relay_hibernate_wake_adopt_and_delete(
    swarm: str, start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    settings = {"KATO_BACKEND": "swarm", "KATO_IDLE_TIMEOUT": "3", "KATO_REAP_INTERVAL": "0.5"}
    manager = start_manager(**settings)
    with manager.client() as http:
        session = create_session(http, user_id="swarm-user")
    sid, pid = session["session_id"], session["processor_id"]
    [service] = _services(test_labels, pid)
    with session_client(manager, sid) as proxied:
        for word in ("a", "b", "c"):
            proxied.post("/observe", json={"strings": [word]}).raise_for_status()
        assert proxied.post("/learn").json()["pattern_name"].startswith("PTRN|")
        proxied.post("/observe", json={"strings": ["a"]}).raise_for_status()

    url = f"ws://127.0.0.1:{manager.port}/session/{sid}/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "observe", "payload": {"strings": ["b"]}}))
        assert json.loads(await ws.recv())["type"] == "observation_result"
    with session_client(manager, sid) as proxied:
        before = memory_of(proxied)
    assert before["stm"] == [["a"], ["b"]] and before["predictions"]

    with manager.client() as http:
        wait_for_status(http, sid, "hibernated")
    wait_until("its service removed", lambda: _services(test_labels, pid) == [])
    with session_client(manager, sid) as proxied:
        assert memory_of(proxied) == before  # woken on a new service, same node, same data
    [woken] = _services(test_labels, pid)
    assert woken.id != service.id

    manager.kill()
    restarted = start_manager(**{**settings, "KATO_IDLE_TIMEOUT": "600"})
    with session_client(restarted, sid) as proxied:
        assert memory_of(proxied) == before
    assert [s.id for s in _services(test_labels, pid)] == [woken.id]  # adopted, not recreated

    with restarted.client() as http:
        assert http.delete(f"/session/{sid}").status_code == 204
    assert _services(test_labels, pid) == []
    engine = docker.from_env()
    try:
        assert not [s for s in engine.secrets.list() if s.name.endswith(pid)]
        assert not engine.volumes.list(filters={"name": f"kato-data-{pid}"})
    finally:
        engine.close()
