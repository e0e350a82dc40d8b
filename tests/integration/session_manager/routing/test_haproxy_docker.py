"""`KATO_ROUTER=haproxy` on the real engine and a real HAProxy (Debian's, started by the
manager): running sessions are served by HAProxy without the manager, misses reach the
manager, which wakes and routes; the manager's rules hold through the router; HAProxy
outlives a `kill -9` of the manager and is adopted by the next one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import websockets

from container_manager.testing import remove_labelled
from kato.web.launcher import free_port
from session_manager.routing.haproxy import stop_haproxy
from session_manager.routing.haproxy_config import ACTIVITY_TABLE, HaproxyLayout
from session_manager.routing.haproxy_runtime import RuntimeApi
from session_manager.testing import ManagerProcess
from tests.integration.monitoring.prometheus import require
from tests.integration.session_manager.docker_support import (
    containers_of,
    create_session,
    wait_for_status,
    wait_until,
)
from tests.unit.session_manager.support import listening_trap
from tests.unit.session_manager.test_proxy import HOSTILE

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None, reason="haproxy absent: `bash scripts/ensure-haproxy.sh`"
)

KEY = "router-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
StartManager = Callable[..., ManagerProcess]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short: HAProxy's admin socket lives under it (a unix socket path has 107 characters).
    path = Path(tempfile.mkdtemp(prefix="kh-", dir="/tmp"))
    yield path
    stop_haproxy(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start(
    processor_image: str, test_labels: dict[str, str], state_dir: Path
) -> Iterator[StartManager]:
    started: list[ManagerProcess] = []
    api_port = free_port()

    def make(**env: str) -> ManagerProcess:
        manager = ManagerProcess(
            state_dir,
            test_labels,
            KATO_IMAGE=processor_image,
            KATO_ROUTER="haproxy",
            KATO_API_PORT=str(api_port),
            KATO_API_KEY=KEY,
            **env,
        )
        started.append(manager.start(timeout=60))
        return manager

    yield make
    for manager in started:
        manager.stop()
    stop_haproxy(state_dir)
    remove_labelled(test_labels)


def _client(manager: ManagerProcess) -> httpx.Client:
    return httpx.Client(base_url=manager.url, headers=AUTH, timeout=120)


def _session_with(http: httpx.Client, *symbols: str) -> str:
    """A new session that has observed `symbols`, one event each."""
    session_id: str = create_session(http)["session_id"]
    for symbol in symbols:
        http.post(f"/session/{session_id}/observe", json={"strings": [symbol]}).raise_for_status()
    return session_id


def _haproxy_pid(state_dir: Path) -> str:
    return (state_dir / "haproxy" / "haproxy.pid").read_text().split()[0]


def _runtime(state_dir: Path) -> RuntimeApi:
    return RuntimeApi(HaproxyLayout(state_dir / "haproxy").socket)


def _routes(state_dir: Path) -> dict[str, str]:
    api = _runtime(state_dir)
    return asyncio.run(api.entries(HaproxyLayout(state_dir / "haproxy").routes))


def _requests_seen(state_dir: Path, session_id: str) -> int:
    row = asyncio.run(_runtime(state_dir).table(ACTIVITY_TABLE)).get(session_id, {})
    return int(row.get("http_req_cnt", 0))


def _proxied_by_manager(http: httpx.Client) -> float:
    """Requests the manager's own proxy carried (its `kato_proxied_requests_total`)."""
    total = 0.0
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("kato_proxied_requests_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    """GET `target` exactly as written (no client normalises its percent-encoding)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def test_a_running_session_is_served_by_haproxy_and_not_by_the_manager(
    start: StartManager, state_dir: Path
) -> None:
    manager = start()
    with _client(manager) as http:
        session = create_session(http)
        sid, token = session["session_id"], session["token"]
        assert set(_routes(state_dir)) == {sid}
        assert token in _routes(state_dir)[sid]  # the router adds the container's token
        before = _proxied_by_manager(http)
        for symbol in ("a", "b", "c"):
            observed = http.post(f"/session/{sid}/observe", json={"strings": [symbol]})
            assert observed.status_code == 200, observed.text
            assert token not in observed.text and token not in str(observed.headers)
        stm = http.get(f"/v2/sessions/{sid}/stm", headers={"X-Request-ID": "req-42"})
        assert stm.json()["stm"] == [["a"], ["b"], ["c"]]
        assert stm.headers["x-request-id"] == "req-42"
        assert _proxied_by_manager(http) == before  # none of them went through the manager
        assert _requests_seen(state_dir, sid) >= 4
        # The manager's own routes under the session's prefix are still the manager's.
        assert http.get(f"/session/{sid}").json()["status"] == "running"


def test_the_router_refuses_what_the_manager_refuses(
    start: StartManager, state_dir: Path
) -> None:
    manager = start(KATO_MAX_BODY_BYTES="4096")
    with _client(manager) as http:
        sid = _session_with(http, "x")
        bad_key = httpx.get(
            f"{manager.url}/session/{sid}/stm", headers={"Authorization": "Bearer nope"}
        )
        assert (bad_key.status_code, bad_key.json()["error"]["code"]) == (401, "KATO_UNAUTHORIZED")
        no_key = httpx.get(f"{manager.url}/session/{sid}/stm")
        assert no_key.status_code == 401
        big = http.post(f"/session/{sid}/observe", content=b"x" * 5000)
        assert (big.status_code, big.json()["error"]["code"]) == (413, "KATO_PAYLOAD_TOO_LARGE")
    # A %-encoded or upper-case id is no session id, as through the builtin proxy.
    encoded = "%" + format(ord(sid[0]), "02x") + sid[1:]
    for target in (f"/session/{encoded}/stm", f"/session/{sid.upper()}/stm"):
        status, answer = _raw_get(manager.port, target)
        assert status == 404 and b"KATO_SESSION_NOT_FOUND" in answer, answer
    status, answer = _raw_get(manager.port, f"/session/{sid}/stm")
    assert status == 200 and b'"stm":[["x"]]' in answer


def test_a_hibernated_session_is_unrouted_and_its_next_request_wakes_it_once(
    start: StartManager, state_dir: Path, test_labels: dict[str, str]
) -> None:
    manager = start()
    with _client(manager) as http:
        sid = _session_with(http, "kept")
        assert http.post(f"/session/{sid}/hibernate").json()["status"] == "hibernated"
        assert sid not in _routes(state_dir)

        def stm(_: int) -> object:
            return http.get(f"/session/{sid}/stm").json()["stm"]

        with ThreadPoolExecutor(4) as pool:  # four requests race the wake: one container
            answers = list(pool.map(stm, range(4)))
        assert answers == [[["kept"]]] * 4
        assert sid in _routes(state_dir)
        record = http.get(f"/session/{sid}").json()
        assert record["status"] == "running"
        assert len(containers_of(test_labels, record["processor_id"])) == 1


def test_traffic_through_haproxy_keeps_a_session_awake(
    start: StartManager, state_dir: Path
) -> None:
    manager = start(KATO_IDLE_TIMEOUT="4", KATO_PAUSE_AFTER="0", KATO_REAP_INTERVAL="0.5")
    with _client(manager) as http:
        busy, quiet = create_session(http)["session_id"], create_session(http)["session_id"]
        wait_until(
            "the quiet session is hibernated",
            lambda: (
                http.get(f"/session/{busy}/stm").status_code == 200
                and http.get(f"/session/{quiet}").json()["status"] == "hibernated"
            ),
            timeout=60,
            interval=0.5,
        )
        # All that time `busy` was served by HAProxy only, and that counted as activity.
        assert http.get(f"/session/{busy}").json()["status"] == "running"
        assert _requests_seen(state_dir, busy) > 2


def test_a_websocket_passes_through_haproxy(start: StartManager, state_dir: Path) -> None:
    manager = start()
    with _client(manager) as http:
        sid = create_session(http)["session_id"]
    before = _requests_seen(state_dir, sid)

    async def talk() -> object:
        url = f"ws://127.0.0.1:{manager.port}/session/{sid}/ws"
        async with websockets.connect(url, additional_headers=AUTH) as ws:
            await ws.send(json.dumps({"type": "observe", "payload": {"strings": ["hi"]}}))
            assert json.loads(await ws.recv())["type"] == "observation_result"
            await ws.send(json.dumps({"type": "get_stm", "payload": {}}))
            return json.loads(await ws.recv())["data"]["stm"]

    assert asyncio.run(talk()) == [["hi"]]
    assert _requests_seen(state_dir, sid) == before + 1  # the upgrade went through HAProxy


def test_running_sessions_are_served_while_the_manager_is_down(
    start: StartManager, state_dir: Path
) -> None:
    manager = start()
    with _client(manager) as http:
        sid = _session_with(http, "a")
        haproxy_pid = _haproxy_pid(state_dir)
        manager.kill()
        for _ in range(20):
            assert http.get(f"/session/{sid}/stm").json()["stm"] == [["a"]]
        down = http.get("/sessions")
        assert (down.status_code, down.json()["error"]["code"]) == (503, "KATO_MANAGER_UNAVAILABLE")
        assert int(down.headers["retry-after"]) > 0
        manager.start(timeout=60)  # the next manager adopts the running HAProxy
        assert _haproxy_pid(state_dir) == haproxy_pid
        assert http.get(f"/session/{sid}").json()["status"] == "running"
        assert set(_routes(state_dir)) == {sid}
        second = _session_with(http, "b")
        assert http.get(f"/session/{second}/stm").json()["stm"] == [["b"]]
        assert http.delete(f"/session/{sid}").status_code == 204
        assert set(_routes(state_dir)) == {second}
        wait_for_status(http, second, "running")
    manager.stop()
    assert _served(manager, second)  # SIGTERM too leaves HAProxy serving
    down = subprocess.run(
        [str(Path(sys.executable).with_name("katoctl")), "down"],
        env={**os.environ, **manager.env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert down.returncode == 0, down.stdout + down.stderr
    assert "router" in down.stdout and not Path(f"/proc/{haproxy_pid}").exists()


def _served(manager: ManagerProcess, session_id: str) -> bool:
    with _client(manager) as http:
        return http.get(f"/session/{session_id}/stm").status_code == 200


@pytest.fixture
def trap() -> Iterator[socket.socket]:
    with listening_trap() as sock:
        yield sock


def test_hostile_paths_through_the_router_reach_no_other_listener(
    start: StartManager, trap: socket.socket
) -> None:
    """The 52 hostile targets of the proxy's tests, sent as written to HAProxy and to the
    manager's own proxy behind it: the same answer from both, never the trap, never the
    container's token."""
    manager = start()
    api_port = int(manager.env["KATO_API_PORT"])
    with _client(manager) as http:
        session = create_session(http)
    sid, token = session["session_id"], session["token"]
    port = str(trap.getsockname()[1])
    compared = 0
    for rest in HOSTILE:
        for query in ("", "a=1", "@evil:1", "x=//evil:1/#frag"):
            target = f"/session/{sid}{rest.replace('18199', port)}"
            target += f"?{query}" if query and "?" not in rest else ""
            routed, routed_answer = _raw_get(manager.port, target)
            direct, _ = _raw_get(api_port, target)
            assert routed >= 400 and token.encode() not in routed_answer, target
            if routed != direct:  # HAProxy refuses what is not valid HTTP (a `#` in it)
                assert (routed, "#" in target) == (400, True), (target, routed_answer[:300])
            compared += 1
    assert compared == 52
    with pytest.raises(BlockingIOError):
        trap.accept()


def test_a_hibernation_raced_by_requests_loses_none_of_them(
    start: StartManager, state_dir: Path
) -> None:
    manager = start()
    with _client(manager) as http:
        sid = create_session(http)["session_id"]
        sent: list[str] = []

        def observe(n: int) -> int:
            symbol = f"s{n}"
            answer = http.post(f"/session/{sid}/observe", json={"strings": [symbol]})
            sent.append(symbol)
            return answer.status_code

        def hibernate_often() -> list[int]:
            return [http.post(f"/session/{sid}/hibernate").status_code for _ in range(5)]

        with ThreadPoolExecutor(1) as pool:  # hibernations beside one stream of requests
            hibernations = pool.submit(hibernate_often)
            statuses = [observe(n) for n in range(40)]
            outcomes = hibernations.result()
        assert statuses == [200] * 40  # every request served, across hibernations and wakes
        assert set(outcomes) <= {200, 409} and 200 in outcomes
        stm = http.get(f"/session/{sid}/stm").json()["stm"]
        assert stm == [[symbol] for symbol in sent]  # nothing lost, in the order answered


def test_an_evicted_session_is_unrouted_and_comes_back_on_its_next_request(
    start: StartManager, state_dir: Path
) -> None:
    manager = start(KATO_MAX_SESSIONS="1", KATO_EVICT_MIN_IDLE="0")
    with _client(manager) as http:
        first = _session_with(http, "one")
        second = create_session(http)["session_id"]  # evicts the first (hibernated)
        assert http.get(f"/session/{first}").json()["status"] == "hibernated"
        assert set(_routes(state_dir)) == {second}
        assert http.get(f"/session/{first}/stm").json()["stm"] == [["one"]]  # evicts the second
        assert set(_routes(state_dir)) == {first}
        assert http.get(f"/session/{second}").json()["status"] == "hibernated"


def test_the_routers_traffic_is_in_prometheus(start: StartManager) -> None:
    manager = start(KATO_REAP_INTERVAL="0.5")
    with _client(manager) as http:
        sid = create_session(http)["session_id"]
        for _ in range(5):
            http.get(f"/session/{sid}/stm").raise_for_status()
        own = http.get("/router/metrics")  # HAProxy's exporter, on the public address
        assert own.status_code == 200, own.text
        checked = subprocess.run(
            [require("promtool"), "check", "metrics"],
            input=own.text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "error" not in (checked.stdout + checked.stderr).lower(), checked.stderr
        served = [
            float(line.rsplit(" ", 1)[1])
            for line in own.text.splitlines()
            if line.startswith('haproxy_backend_http_requests_total{proxy="kato_sessions"')
        ]
        assert served and served[0] >= 5
        assert httpx.get(f"{manager.url}/router/metrics").status_code == 401  # the key, as /metrics

        def per_session() -> float:
            for line in http.get("/metrics").text.splitlines():
                if line.startswith(f'kato_router_session_requests{{session_id="{sid}"}}'):
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        wait_until("the manager reports the router's count", lambda: per_session() >= 5)


def test_katoctl_up_router_haproxy_keeps_one_public_port(
    processor_image: str, test_labels: dict[str, str], state_dir: Path
) -> None:
    manager = ManagerProcess(state_dir, test_labels, KATO_IMAGE=processor_image, KATO_API_KEY=KEY)
    api_port = free_port()
    manager.command = [
        str(Path(sys.executable).with_name("katoctl")),
        "up",
        "--router",
        "haproxy",
        "--port",
        str(manager.port),
        "--api-port",
        str(api_port),
    ]
    with manager.start(timeout=60), _client(manager) as http:
        sid = create_session(http)["session_id"]
        assert set(_routes(state_dir)) == {sid}  # HAProxy on --port, routing
        own = httpx.get(f"http://127.0.0.1:{api_port}/sessions", headers=AUTH)
        assert [s["session_id"] for s in own.json()["sessions"]] == [sid]  # the API behind it
    remove_labelled(test_labels)


def test_a_manager_with_other_settings_reloads_haproxy_with_its_routes(
    start: StartManager, state_dir: Path
) -> None:
    first = start()
    with _client(first) as http:
        sid = _session_with(http, "a")
    old_pid = _haproxy_pid(state_dir)
    first.stop()
    second = start(KATO_PROXY_TIMEOUT="30")  # another configuration: reloaded with -sf
    new_pid = _haproxy_pid(state_dir)
    assert new_pid != old_pid
    wait_until("the old HAProxy has finished", lambda: not Path(f"/proc/{old_pid}").exists())
    assert "timeout server 30000" in (state_dir / "haproxy" / "haproxy.cfg").read_text()
    assert set(_routes(state_dir)) == {sid}
    with _client(second) as http:
        before = _requests_seen(state_dir, sid)
        assert http.get(f"/session/{sid}/stm").json()["stm"] == [["a"]]
        assert _requests_seen(state_dir, sid) == before + 1  # served by the new HAProxy
