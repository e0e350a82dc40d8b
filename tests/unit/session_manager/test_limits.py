"""Sessions per user (429 KATO_QUOTA_EXCEEDED) and rate limits (429 KATO_RATE_LIMITED with
Retry-After and RateLimit-* headers), bounded memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from session_manager.errors import RateLimitedError
from session_manager.limits import RateLimitMiddleware, RateLimits
from session_manager.metrics import REJECTION_USER_LABELS
from session_manager.settings import ManagerSettings
from tests.unit.session_manager.support import Clock

KEY = "operator-key-0123456789"
SECRET = "an-hs256-secret-of-at-least-32-chars!"
OPERATOR = {"Authorization": f"Bearer {KEY}"}


def bearer(sub: str) -> dict[str, str]:
    token = jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


def test_a_create_beyond_the_quota_is_429_naming_the_limit(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_key=KEY, jwt_secret=SECRET, max_sessions_per_user=2)
    alice = bearer("alice")
    first = client.post("/session/create", headers=alice).json()["session_id"]
    client.post(f"/session/{first}/hibernate", headers=alice)  # hibernated ones count
    assert client.post("/v2/sessions", headers=alice).status_code == 201
    over = client.post("/session/create", headers=alice)
    assert over.status_code == 429
    error = over.json()["error"]
    assert error["code"] == "KATO_QUOTA_EXCEEDED"
    assert error["details"]["limit"] == "KATO_MAX_SESSIONS_PER_USER"
    assert error["details"]["max"] == 2
    assert client.get("/stm", headers=alice).status_code == 429  # a default session counts too
    # the operator creating for alice counts as well; bob has his own quota
    refused = client.post("/session/create", headers=OPERATOR, json={"user_id": "alice"})
    assert refused.status_code == 429
    assert client.post("/session/create", headers=bearer("bob")).status_code == 201
    text = client.get("/metrics", headers=OPERATOR).text.splitlines()
    assert "kato_quota_user_sessions_max 2.0" in text
    assert "kato_quota_users_at_limit 1.0" in text  # alice, not bob
    assert "kato_quota_max_sessions_per_user 2.0" in text
    assert 'kato_rejections_total{reason="quota",user="alice"} 3.0' in text
    assert client.delete(f"/session/{first}", headers=alice).status_code == 204
    assert client.post("/session/create", headers=alice).status_code == 201


def test_a_user_over_its_rate_gets_429_with_headers_then_200_after_retry_after(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_key=KEY, jwt_secret=SECRET, rate_limit_user=2)
    alice = bearer("alice")
    answers = [client.get("/sessions", headers=alice) for _ in range(5)]
    statuses = [a.status_code for a in answers]
    assert statuses[:4] == [200] * 4 and statuses[4] == 429  # the burst is twice the rate
    limited = answers[4]
    assert limited.json()["error"]["code"] == "KATO_RATE_LIMITED"
    assert limited.json()["error"]["details"]["limit"] == "KATO_RATE_LIMIT_USER"
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["RateLimit-Limit"] == "4"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert int(limited.headers["RateLimit-Reset"]) >= 1
    assert client.get("/sessions", headers=bearer("bob")).status_code == 200  # others unhurt
    assert client.get("/sessions", headers=OPERATOR).status_code == 200  # no user bucket
    assert client.get("/health", headers=alice).status_code == 200  # probes are not counted
    time.sleep(int(limited.headers["Retry-After"]))
    assert client.get("/sessions", headers=alice).status_code == 200


def test_a_session_rate_counts_both_prefixes_the_root_and_the_websocket_open(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit_session=1)
    sid = client.post("/session/create").json()["session_id"]
    assert client.get(f"/session/{sid}/stm").status_code == 200
    assert client.get(f"/v2/sessions/{sid}/stm").status_code == 200
    refused = client.get("/stm", headers={"X-Session-ID": sid})
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["limit"] == "KATO_RATE_LIMIT_SESSION"
    other = client.post("/session/create").json()["session_id"]
    assert client.get(f"/session/{other}/stm").status_code == 200


def test_buckets_refill_refuse_without_taking_and_stay_bounded(tmp_path: Path) -> None:
    clock = Clock(0.0)
    settings = ManagerSettings(
        state_dir=tmp_path, rate_limit_user=1, rate_limit_session=10, rate_limit_keys=50
    )
    limits = RateLimits(settings, clock=clock)
    limits.take("alice", "s1")
    limits.take("alice", "s1")
    with pytest.raises(RateLimitedError) as refused:
        limits.take("alice", "s1")
    assert refused.value.headers["Retry-After"] == "1"
    clock.now += 1.0
    limits.take("alice", "s1")  # refilled one token
    for n in range(500):
        limits.take(f"user{n}", f"session{n}")
    assert len(limits) <= 50


def test_rates_off_by_default(client: TestClient) -> None:
    assert all(client.get("/sessions").status_code == 200 for _ in range(50))


def test_websocket_messages_count_against_the_session_rate(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit_session=1)
    sid = client.post("/session/create").json()["session_id"]
    with client.websocket_connect(f"/session/{sid}/ws") as ws:  # the open takes one token
        ws.send_text("a")
        assert ws.receive_text() == "echo:a"
        ws.send_text("b")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4429, "KATO_RATE_LIMITED")


def test_refusals_are_counted_by_reason_with_few_user_labels(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_key=KEY, jwt_secret=SECRET, rate_limit_user=0.5)
    for n in range(REJECTION_USER_LABELS + 5):
        for _ in range(2):
            client.get("/sessions", headers=bearer(f"user{n:02d}"))
    text = client.get("/metrics", headers=OPERATOR).text
    rejected = [line for line in text.splitlines() if line.startswith("kato_rejections_total{")]
    assert len(rejected) == REJECTION_USER_LABELS + 1
    assert 'kato_rejections_total{reason="rate_user",user="other"} 5.0' in rejected


async def test_past_the_inflight_bound_new_work_is_shed_with_503(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    refusals: list[str] = []
    limits = RateLimits(
        ManagerSettings(state_dir=tmp_path), on_refusal=lambda r, u: refusals.append(r)
    )
    app = RateLimitMiddleware(slow, limits=limits, shed_inflight=2, retry_after=3)
    sent: list[list[dict[str, Any]]] = [[], [], [], []]

    def call(n: int, path: str = "/sessions") -> Any:
        scope = {"type": "http", "method": "GET", "path": path, "headers": []}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent[n].append(message)

        return asyncio.create_task(app(scope, receive, send))

    first, second = call(0), call(1)
    await asyncio.sleep(0)
    await call(2)  # two in flight: refused at once
    probe = call(3, "/health")  # probes are never shed
    assert sent[2][0]["status"] == 503
    assert (b"retry-after", b"3") in sent[2][0]["headers"]
    assert b"KATO_OVERLOADED" in sent[2][1]["body"]
    assert refusals == ["overload"]
    gate.set()
    await asyncio.gather(first, second, probe)
    assert [m[0]["status"] for m in (sent[0], sent[1], sent[3])] == [200, 200, 200]
    assert app.inflight == 0
