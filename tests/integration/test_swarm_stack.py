"""docker-compose.swarm.yml end to end on a real one-node swarm: the manager itself runs as a
Swarm service (deployed like `katoctl deploy`), creates sessions as services on the overlay,
proxies HTTP and WebSocket to them by service name, hibernates and wakes them, and adopts them
after Swarm restarts it when its container is killed.

Everything runs under a throw-away stack name, network name and port, labelled with the run's
`kato.test` label; the stack, its volume, and every service and secret are removed at the end.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest
import websockets

from container_manager.deploy.stack import deploy_stack, remove_stack
from container_manager.testing import remove_labelled, swarm_node
from kato.web.launcher import free_port
from kato.web.wait import wait_until

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Stack:
    name: str
    url: str
    api_key: str

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@pytest.fixture
def stack(processor_image: str, test_labels: dict[str, str]) -> Iterator[Stack]:
    name = f"kato-it-{uuid.uuid4().hex[:8]}"
    port = free_port()
    api_key = secrets.token_urlsafe(16)
    with swarm_node():
        deploy_stack(
            name,
            {
                "KATO_IMAGE": processor_image,
                "KATO_SWARM_NETWORK": f"{name}-net",
                "KATO_MANAGER_PORT": str(port),
                "KATO_API_KEY": api_key,
                "KATO_EXTRA_LABELS": json.dumps(test_labels),
                "KATO_CONTAINER_PREFIX": name,
                "KATO_IDLE_TIMEOUT": "4",
                "KATO_REAP_INTERVAL": "0.5",
            },
        )
        try:
            deployed = Stack(name, f"http://127.0.0.1:{port}", api_key)
            wait_until("the manager answers /health", lambda: _healthy(deployed), timeout=120)
            yield deployed
        finally:
            remove_labelled(test_labels)  # the sessions' services first: they use the network
            remove_stack(name)
            wait_until("the manager is gone", lambda: not _manager_containers(name), timeout=120)
            engine = docker.from_env()
            engine.volumes.get(f"{name}_manager-state").remove(force=True)
            engine.close()


def _healthy(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _manager_containers(stack_name: str) -> list[dict[str, Any]]:
    """Summaries only (id, state): inspecting each would race with Swarm removing them."""
    engine = docker.from_env()
    try:
        filters = {"label": f"com.docker.stack.namespace={stack_name}"}
        return list(engine.api.containers(all=True, filters=filters))
    finally:
        engine.close()


def _service_ids(processor_id: str) -> list[str]:
    engine = docker.from_env()
    try:
        filters = {"label": f"kato.processor_id={processor_id}"}
        return [str(s.id) for s in engine.services.list(filters=filters)]
    finally:
        engine.close()


def _stm(http: httpx.Client, session_id: str) -> Any:
    answer = http.get(f"/session/{session_id}/stm")
    assert answer.status_code == 200, answer.text
    return answer.json()["stm"]


async def test_stack_serves_sessions_and_survives_its_manager_being_killed(stack: Stack) -> None:
    with stack.client() as http:
        assert httpx.get(f"{stack.url}/sessions").status_code == 401  # the key is required
        created = http.post("/session/create", json={"user_id": "on-swarm"})
        assert created.status_code == 201, created.text
        session = created.json()
        sid, pid = session["session_id"], session["processor_id"]
        assert session["url"] is None  # processors publish no port; the manager reaches them
        for word in ("a", "b", "c"):
            http.post(f"/session/{sid}/observe", json={"strings": [word]}).raise_for_status()
        assert http.post(f"/session/{sid}/learn").json()["pattern_name"].startswith("PTRN|")

    headers = {"Authorization": f"Bearer {stack.api_key}"}
    url = f"{stack.url.replace('http', 'ws')}/session/{sid}/ws"
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "observe", "payload": {"strings": ["a"]}}))
        assert json.loads(await ws.recv())["type"] == "observation_result"

    with stack.client() as http:
        wait_until(
            "the session is hibernated",
            lambda: http.get(f"/session/{sid}").json()["status"] == "hibernated",
            timeout=120,
        )
        # The record says hibernated before its service is removed: wait for that too.
        wait_until("its service removed", lambda: _service_ids(pid) == [], timeout=120)
        assert _stm(http, sid) == [["a"]]  # woken on a new service with its state restored

    [manager] = _manager_containers(stack.name)
    engine = docker.from_env()
    engine.api.kill(manager["Id"])
    engine.close()
    wait_until(
        "Swarm restarts the manager",
        lambda: (
            any(
                c["Id"] != manager["Id"] and c["State"] == "running"
                for c in _manager_containers(stack.name)
            )
            and _healthy(stack)
        ),
        timeout=120,
    )
    with stack.client() as http:
        # Idle past 4 s while the manager was down, the session may have been hibernated
        # again by the restarted manager: either way it answers with its state, on one service.
        assert _stm(http, sid) == [["a"]]
        assert len(_service_ids(pid)) == 1
        assert http.delete(f"/session/{sid}").status_code == 204
    assert _service_ids(pid) == []
