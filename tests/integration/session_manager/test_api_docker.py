"""The v2 prefix and v1 at the manager's root, on the real engine: a v1 client pointed at the
manager works unchanged, against real containers."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import websockets

from kato.client import ProcessorClient
from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import create_session, wait_for_status

pytestmark = pytest.mark.docker

KEY = "integration-key"


def test_a_v1_client_at_the_managers_root_gets_its_default_session(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(KATO_API_KEY=KEY)
    with ProcessorClient(manager.url, KEY) as v1:  # the processor's own client, unchanged
        for symbols in (["hello"], ["world"]):
            v1.observe(strings=symbols)
        v1.learn()
        v1.observe(strings=["hello"])
        v1.observe(strings=["world"])  # a prediction needs two symbols in the STM
        predicted = v1.predictions()
    assert [p.name for p in predicted.predictions]  # learned and predicted through the manager
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=manager.url, headers=headers, timeout=120) as http:
        (default,) = [s for s in http.get("/sessions").json()["sessions"] if s["default"]]
        sid = default["session_id"]
        assert http.get(f"/session/{sid}/stm").json()["stm"] == [["hello"], ["world"]]

        named = create_session(http)
        routed = http.post(
            "/observe", json={"strings": ["named"]}, headers={"X-Session-ID": named["session_id"]}
        )
        assert routed.headers["x-session-id"] == named["session_id"]
        assert http.get(f"/session/{named['session_id']}/stm").json()["stm"] == [["named"]]
        default_stm = http.get("/stm").json()["stm"]
        assert default_stm == [["hello"], ["world"]]  # the default one is untouched

        assert http.post(f"/session/{sid}/hibernate").json()["status"] == "hibernated"
        assert http.get("/stm").json()["stm"] == [["hello"], ["world"]]  # woken from its snapshot
        assert http.get("/health").json()["status"] == "healthy"  # the manager's own


async def test_the_v2_prefix_on_a_real_container(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager()
    with httpx.Client(base_url=manager.url, timeout=120) as http:
        created = http.post("/v2/sessions", json={"genes": {"max_predictions": 7}})
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        base = f"/v2/sessions/{sid}"
        http.post(f"{base}/observe", json={"strings": ["a"]}).raise_for_status()
        assert http.get(f"{base}/gene/max_predictions").json()["gene_value"] == 7
        async with websockets.connect(f"ws://127.0.0.1:{manager.port}{base}/ws") as ws:
            await ws.send(json.dumps({"type": "get_stm", "payload": {}}))
            assert json.loads(await ws.recv())["data"]["stm"] == [["a"]]
        assert http.post(f"{base}/hibernate").json()["status"] == "hibernated"
        assert http.get(f"/session/{sid}/stm").json()["stm"] == [["a"]]  # woken under v1
        wait_for_status(http, sid, "running")
        assert http.delete(base).status_code == 204
        gone = http.get(f"{base}/stm")
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "KATO_SESSION_NOT_FOUND")
