"""Two users on the real engine: each sees and uses only its own sessions on every route (HTTP
under both prefixes, root routes, WebSocket, events, export/import/fork), the operator's routes
refuse them, the quota holds at its limit, and a rate limit answers 429 with its headers and
then 200 again after Retry-After."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import jwt
import pytest
import websockets

from kato.client import KatoClient, RateLimitError
from session_manager.testing import ManagerProcess

pytestmark = pytest.mark.docker

KEY = "integration-operator-key-0123"
SECRET = "integration-hs256-secret-0123456789abcdef"


def _token(sub: str, **claims: object) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, **claims}, SECRET, "HS256")


def _http(manager: ManagerProcess, credential: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {credential}"}
    return httpx.Client(base_url=manager.url, headers=headers, timeout=120)


async def test_two_users_are_isolated_on_every_route_and_held_to_their_quota(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(
        KATO_API_KEY=KEY, KATO_JWT_SECRET=SECRET, KATO_MAX_SESSIONS_PER_USER="3"
    )
    alice_token, bob_token = _token("alice"), _token("bob")
    with (
        KatoClient(manager.url, token=alice_token) as alice,
        _http(manager, bob_token) as bob,
        _http(manager, alice_token) as alice_http,
        _http(manager, KEY) as operator,
    ):
        session = alice.create_session()
        sid = session.session_id
        assert session.info.user_id == "alice"
        session.observe(["hello"])

        for prefix in ("/session", "/v2/sessions"):
            for method, path in (
                ("GET", ""),
                ("GET", "/stm"),
                ("POST", "/hibernate"),
                ("GET", "/export"),
                ("POST", "/fork"),
                ("DELETE", ""),
            ):
                answer = bob.request(method, f"{prefix}/{sid}{path}")
                assert answer.status_code == 404, (method, prefix, path, answer.text)
        assert bob.get("/stm", headers={"X-Session-ID": sid}).status_code == 404
        assert bob.get("/sessions").json()["sessions"] == []
        assert bob.post("/session/create", json={"user_id": "alice"}).status_code == 403
        for path in ("/metrics", "/metrics/processors", "/dashboard/api/overview"):
            assert bob.get(path).status_code == 403
        events = bob.get("/events", params={"after": 0, "follow": "false"}).text
        assert sid not in events
        assert sid in alice_http.get("/events", params={"after": 0, "follow": "false"}).text

        url = f"ws://127.0.0.1:{manager.port}/session/{sid}/ws"
        async with websockets.connect(url, subprotocols=[f"kato.bearer.{bob_token}"]) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
        offered = ["kato", f"kato.bearer.{alice_token}"]  # as a browser sends it
        async with websockets.connect(url, subprotocols=offered) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "get_stm", "payload": {}}))
            assert json.loads(await ws.recv())["data"]["stm"] == [["hello"]]

        document = alice_http.get(f"/session/{sid}/export").content
        imported = alice_http.post("/v2/sessions/import", content=document)
        assert imported.status_code == 201 and imported.json()["user_id"] == "alice"
        forked = alice_http.post(f"/v2/sessions/{sid}/fork")
        assert forked.status_code == 201 and forked.json()["user_id"] == "alice"
        with _http(manager, _token("alice", sid=forked.json()["session_id"])) as limited:
            assert limited.get("/stm").json()["stm"] == [["hello"]]  # the sid session
            assert limited.get(f"/session/{sid}").status_code == 404

        with pytest.raises(RateLimitError) as over:  # alice owns three: the quota
            alice.create_session()
        assert over.value.code == "KATO_QUOTA_EXCEEDED"
        assert bob.post("/session/create").status_code == 201  # bob has his own

        mine = {s["session_id"] for s in alice_http.get("/sessions").json()["sessions"]}
        assert mine == {sid, imported.json()["session_id"], forked.json()["session_id"]}
        everyone = {s["session_id"] for s in operator.get("/sessions").json()["sessions"]}
        assert mine < everyone
        assert operator.get("/metrics").status_code == 200


def test_a_rate_limit_answers_429_with_headers_then_200_after_retry_after(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(KATO_API_KEY=KEY, KATO_JWT_SECRET=SECRET, KATO_RATE_LIMIT_USER="2")
    with _http(manager, _token("alice")) as alice, _http(manager, _token("bob")) as bob:
        answers = [alice.get("/sessions") for _ in range(8)]
        limited = next(a for a in answers if a.status_code == 429)
        assert limited.json()["error"]["code"] == "KATO_RATE_LIMITED"
        assert limited.headers["RateLimit-Limit"] == "4"
        assert limited.headers["RateLimit-Remaining"] == "0"
        assert "RateLimit-Reset" in limited.headers
        assert bob.get("/sessions").status_code == 200
        time.sleep(int(limited.headers["Retry-After"]))
        assert alice.get("/sessions").status_code == 200
