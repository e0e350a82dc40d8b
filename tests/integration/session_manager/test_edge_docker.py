"""The manager's edge on the real engine: a paused container (504s, nothing sent twice,
nothing removed, other sessions still hibernated), hostile input, private state files, the
browser's way to the WebSocket, and a short schema-fuzzing run over real HTTP."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import websockets
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import tests.fuzz_support  # noqa: F401  (registers our media types)
from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import (
    containers_of,
    create_session,
    paused,
    session_client,
    wait_for_status,
)

pytestmark = pytest.mark.docker


def test_paused_container_gives_504_and_nothing_twice(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager(KATO_PROXY_TIMEOUT="2", KATO_RECONCILE_INTERVAL="3600")
    with manager.client() as http:
        session = create_session(http)
    sid, pid = session["session_id"], session["processor_id"]
    with session_client(manager, sid) as proxied:
        proxied.post("/observe", json={"strings": ["before"]}).raise_for_status()
        with paused(test_labels, pid) as container:
            for _ in range(2):
                answer = proxied.post("/observe", json={"strings": ["during"]})
                assert answer.status_code == 504
                assert answer.json()["error"]["code"] == "KATO_UPSTREAM_TIMEOUT"
        stm = proxied.get("/stm").json()["stm"]
    # Each timed-out request may be applied after the pause, never more than once.
    assert stm[0] == ["before"] and stm.count(["during"]) <= 2 and len(stm) <= 3
    (after,) = containers_of(test_labels, pid)
    assert after.id == container.id and after.status == "running"  # nothing removed


def test_paused_container_does_not_hold_back_other_hibernations(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager(
        KATO_IDLE_TIMEOUT="1",
        KATO_REAP_INTERVAL="0.5",
        KATO_SNAPSHOT_TIMEOUT="60",
        KATO_RECONCILE_INTERVAL="3600",
    )
    with manager.client() as http:
        stuck = create_session(http)
        with session_client(manager, stuck["session_id"]) as proxied:
            proxied.post("/observe", json={"strings": ["kept"]}).raise_for_status()
        with paused(test_labels, stuck["processor_id"]):
            other = create_session(http)
            # Its snapshot waits behind nothing: the paused one's holds only its own slot.
            wait_for_status(http, other["session_id"], "hibernated")
            assert http.get(f"/session/{stuck['session_id']}").json()["status"] == "running"
        wait_for_status(http, stuck["session_id"], "hibernated")
    with session_client(manager, stuck["session_id"]) as proxied:
        assert proxied.get("/stm").json()["stm"] == [["kept"]]  # hibernated with its STM


def test_hostile_input_and_private_state(
    start_manager: Callable[..., ManagerProcess], tmp_path: Path
) -> None:
    manager = start_manager()
    with manager.client() as http:
        for body in (
            {"ttl_seconds": 1_000_000_000_000},
            {"genes": {"memory_limit": "20g", "cpu_limit": 2, "pids_limit": 100000}},
            {"genes": {"pids_limit": 1}},
            {"genes": {"memory_limit": "1b"}},
            {"genes": {"processor_name": "a\u0000b"}},
            {"genes": {"max_pattern_length": 18446744073709551616}},
        ):
            answer = http.post("/session/create", json=body)
            assert answer.status_code == 422, (body, answer.text)
        assert http.get("/sessions").json() == {"sessions": [], "next_cursor": None}
        session = create_session(http, genes={"memory_limit": "256m", "pids_limit": 64})
        sid = session["session_id"]
        assert http.get(f"/session/{sid}%2F@127.0.0.1:9/steal").status_code == 404
        assert http.get(f"/session/{sid}%2Fstm").status_code == 404
        assert http.get("/sessions").json()["sessions"][0]["token"] is None
        assert http.head("/sessions").status_code == 200
        big_id = http.get("/health", headers={"X-Request-ID": "x" * 16384})
        assert big_id.status_code == 200 and len(big_id.headers["x-request-id"]) == 32
    (container,) = containers_of({"kato.processor_id": session["processor_id"]})
    host = container.attrs["HostConfig"]
    assert (host["Memory"], host["PidsLimit"]) == (256 * 2**20, 64)
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("sessions.sqlite3", "sessions.sqlite3-wal", "sessions.sqlite3-shm"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name


async def test_browser_websocket_with_the_key_as_subprotocol(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(KATO_API_KEY="s3cret-key")
    with manager.client() as http:
        http.headers["Authorization"] = "bearer s3cret-key"  # the scheme in any case
        session = create_session(http)
    base = f"ws://127.0.0.1:{manager.port}/session"
    protocols: Any = ["kato", "kato.bearer.s3cret-key"]
    url = f"{base}/{session['session_id']}/ws"
    async with websockets.connect(url, subprotocols=protocols) as ws:
        assert ws.subprotocol == "kato"
        await ws.send(json.dumps({"type": "observe", "payload": {"strings": ["hi"]}}))
        assert json.loads(await ws.recv())["type"] == "observation_result"
    async with websockets.connect(f"{base}/{'0' * 32}/ws", subprotocols=protocols) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(url, subprotocols=["kato"])
    assert "s3cret-key" not in manager.log_path.read_text()


#: Examples per operation: creates and imports start real containers, so they are few.
EXAMPLES = {"POST /session/create": 3, "POST /session/import": 2}
#: `GET /events` follows its stream for ever; test_events_docker.py covers it.
ENDLESS = {"GET /events"}


@pytest.mark.timeout(180)
def test_schema_fuzzing_over_real_http(start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager()
    schema = schemathesis.openapi.from_url(f"{manager.url}/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in ENDLESS:
            continue

        @settings(
            max_examples=EXAMPLES.get(operation.label, 10),
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=manager.url, checks=checks, timeout=90)

        answers_as_documented()
