"""The proxy's fast lane (`session_manager.fast_path`): a routed session's processor requests
take it, and it keeps every rule of the regular way (key, body limit, request id, hop-by-hop
headers, the token, scope and owner, in-flight accounting, errors); anything else (the
manager's own session routes, a hibernated or paused session) takes the regular way."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from session_manager import fast_path
from session_manager.api import sessions as session_routes
from tests.error_bodies import stable
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import service_of

KEY = "operator-key-0123456789"
SECRET = "an-hs256-secret-of-at-least-32-chars!"
PREFIXES = ("/session", "/v2/sessions")
VOLATILE = {"date", "x-request-id"}


class Ways:
    """Which way each proxied request took: "lane" or "regular"."""

    def __init__(self) -> None:
        self.taken: list[str] = []

    def last(self) -> str:
        return self.taken[-1]


@pytest.fixture
def ways(monkeypatch: pytest.MonkeyPatch) -> Ways:
    ways = Ways()
    lane, regular = fast_path._proxy, session_routes.forward

    async def on_lane(*args: Any) -> Any:
        ways.taken.append("lane")
        return await lane(*args)

    async def on_regular(*args: Any) -> Any:
        ways.taken.append("regular")
        return await regular(*args)

    monkeypatch.setattr(fast_path, "_proxy", on_lane)
    monkeypatch.setattr(session_routes, "forward", on_regular)
    return ways


def _session(client: TestClient, headers: dict[str, str] | None = None) -> str:
    answer = client.post("/session/create", headers=headers or {})
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["session_id"]
    return session_id


def _bearer(sub: str, **claims: Any) -> dict[str, str]:
    payload = {"sub": sub, "exp": int(time.time()) + 300, **claims}
    return {"Authorization": f"Bearer {jwt.encode(payload, SECRET, algorithm='HS256')}"}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_routed_session_is_served_on_the_lane(
    client: TestClient, ways: Ways, processor: FakeProcessor, prefix: str
) -> None:
    session_id = _session(client)
    observed = client.post(f"{prefix}/{session_id}/observe", json={"strings": ["a"]})
    assert observed.status_code == 200 and observed.json() == {"status": "okay", "time": 1}
    stm = client.get(f"{prefix}/{session_id}/stm?x=%2F1")
    assert stm.json() == {"stm": [["a"]]}
    assert ways.taken == ["lane", "lane"]
    assert processor.requests[-1]["raw_path"] == "/stm?x=%2F1"
    assert processor.requests[-2]["body"] == b'{"strings":["a"]}'


def test_the_lane_answers_as_the_regular_way(
    client: TestClient, ways: Ways, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = _session(client)
    paths = ["/stm", "/teapot", "/nowhere", "/hop-by-hop"]
    lane = [client.get(f"/session/{session_id}{path}") for path in paths]
    monkeypatch.setattr(fast_path.FastLane, "_lane_target", lambda self, scope: None)
    regular = [client.get(f"/session/{session_id}{path}") for path in paths]
    assert ways.taken == ["lane"] * 4 + ["regular"] * 4
    for one, other in zip(lane, regular, strict=True):
        assert one.status_code == other.status_code
        assert _body(one) == _body(other)
        assert _stable(one.headers.items()) == _stable(other.headers.items())
    assert lane[1].status_code == 418 and lane[1].headers["x-tea"] == "yes"


def _body(response: Any) -> Any:
    """A JSON body without its per-answer fields (error bodies), else the bytes."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return stable(response.json())
    return response.content


def _stable(headers: Any) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in headers if k not in VOLATILE)


def test_hop_by_hop_headers_are_dropped_both_ways_and_the_token_never_returns(
    client: TestClient, ways: Ways, processor: FakeProcessor
) -> None:
    session_id = _session(client)
    container_token = service_of(client).routes[session_id].token
    answer = client.get(
        f"/session/{session_id}/hop-by-hop",
        headers={
            "Authorization": "Bearer from-the-client",
            "Proxy-Authorization": "Basic x",
            "TE": "trailers",
            "Keep-Alive": "timeout=1",
            "X-Mine": "kept",
        },
    )
    assert ways.last() == "lane" and answer.status_code == 200
    sent = {k.lower(): v for k, v in processor.requests[-1]["headers"].items()}
    assert sent["authorization"] == f"Bearer {container_token}"
    assert sent["x-mine"] == "kept"
    assert not {"proxy-authorization", "te", "keep-alive"} & set(sent)
    returned = {k.lower() for k in answer.headers}
    assert returned.isdisjoint({"keep-alive", "proxy-authenticate", "trailer", "upgrade"})
    assert returned.isdisjoint({"authorization", "traceparent"})
    assert answer.headers["x-kept"] == "1"
    assert all(container_token not in v for v in answer.headers.values())


def test_the_api_key_is_checked_before_the_lane(
    make_client: Callable[..., TestClient], ways: Ways
) -> None:
    client = make_client(api_key=KEY)
    session_id = _session(client, {"Authorization": f"Bearer {KEY}"})
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = client.get(f"/session/{session_id}/stm", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "KATO_UNAUTHORIZED"
    assert ways.taken == []
    served = client.get(f"/session/{session_id}/stm", headers={"Authorization": f"Bearer {KEY}"})
    assert served.status_code == 200 and ways.taken == ["lane"]


def test_a_body_over_the_limit_is_a_413_on_the_lane(
    make_client: Callable[..., TestClient], ways: Ways, processor: FakeProcessor
) -> None:
    client = make_client(max_body_bytes=64)
    session_id = _session(client)
    seen = len(processor.requests)

    def chunks() -> Iterator[bytes]:  # no Content-Length: only the streamed size tells
        yield b"x" * 40
        yield b"x" * 40

    streamed = client.post(f"/session/{session_id}/observe", content=chunks())
    assert streamed.status_code == 413 and ways.taken == ["lane"]
    body = stable(streamed.json())
    assert body["error"]["code"] == "KATO_PAYLOAD_TOO_LARGE"
    assert body["error"]["details"] == {"max_body_bytes": 64}
    declared = client.post(f"/session/{session_id}/observe", content=b"x" * 65)
    assert declared.status_code == 413 and stable(declared.json()) == body
    assert len(processor.requests) == seen  # neither reached the container
    fits = client.post(f"/session/{session_id}/observe", json={"strings": ["a"]})
    assert fits.status_code == 200


def test_the_request_id_is_echoed_and_sent_on(
    client: TestClient, ways: Ways, processor: FakeProcessor
) -> None:
    session_id = _session(client)
    given = client.get(f"/session/{session_id}/stm", headers={"X-Request-ID": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    assert processor.requests[-1]["headers"]["X-Trace-ID"] == "req-42"
    made = client.get(f"/session/{session_id}/stm")
    assert len(made.headers["x-request-id"]) == 32
    assert processor.requests[-1]["headers"]["X-Trace-ID"] == made.headers["x-request-id"]
    assert ways.taken == ["lane", "lane"]


@pytest.mark.parametrize(
    ("method", "rest"),
    [("POST", "/hibernate"), ("GET", "/export"), ("POST", "/fork"), ("GET", "/")],
)
def test_the_managers_own_session_routes_are_not_on_the_lane(
    client: TestClient, ways: Ways, method: str, rest: str
) -> None:
    session_id = _session(client)
    client.request(method, f"/session/{session_id}{rest}")
    assert "lane" not in ways.taken


def test_a_hibernated_or_paused_session_takes_the_regular_way(
    client: TestClient, ways: Ways
) -> None:
    session_id = _session(client)
    service = service_of(client)
    assert client.post(f"/session/{session_id}/hibernate").status_code == 200
    assert session_id not in service.routes
    woken = client.get(f"/session/{session_id}/stm")
    assert woken.status_code == 200 and ways.taken == ["regular"]  # woken by the regular way
    assert client.get(f"/session/{session_id}/stm").status_code == 200
    assert ways.last() == "lane"
    service.routes[session_id].paused = True  # as `SessionService.pause` leaves it
    assert client.get(f"/session/{session_id}/stm").status_code == 200
    assert ways.last() == "regular" and not service.routes[session_id].paused  # resumed


def test_a_request_on_the_lane_keeps_its_session_from_hibernating(
    client: TestClient, ways: Ways, processor: FakeProcessor
) -> None:
    session_id = _session(client)
    service = service_of(client)
    route = service.routes[session_id]
    answers: list[int] = []
    stalled = threading.Thread(
        target=lambda: answers.append(client.get(f"/session/{session_id}/stall").status_code)
    )
    stalled.start()
    deadline = time.monotonic() + 5
    while route.inflight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert route.inflight == 1 and ways.taken == ["lane"]
    hibernate = functools.partial(service.hibernate, session_id, force=True)
    assert client.portal.call(hibernate) is False  # type: ignore[union-attr]
    processor.release.set()
    stalled.join(5)
    assert route.inflight == 0 and service.routes[session_id] is route
    assert answers == [404]  # the fake's answer to /stall once released


def test_user_tokens_keep_their_scope_and_owner(
    make_client: Callable[..., TestClient], ways: Ways
) -> None:
    client = make_client(api_key=KEY, jwt_secret=SECRET)
    alice = _bearer("alice")
    session_id = _session(client, alice)
    assert client.get(f"/session/{session_id}/stm", headers=alice).status_code == 200
    assert ways.taken == ["lane"]
    other = client.get(f"/session/{session_id}/stm", headers=_bearer("bob"))
    assert other.status_code == 404
    read_only = client.get(
        f"/session/{session_id}/stm", headers=_bearer("alice", scope="sessions:read")
    )
    assert read_only.status_code == 403
    elsewhere = _bearer("alice", sid="0" * 32)
    assert client.get(f"/session/{session_id}/stm", headers=elsewhere).status_code == 404
    assert ways.taken == ["lane"]  # each refused on the regular way, before its proxy call


def test_a_container_that_refuses_is_a_502_and_its_route_is_dropped(
    client: TestClient, ways: Ways
) -> None:
    session_id = _session(client)
    service = service_of(client)
    service.routes[session_id].internal_url = "http://127.0.0.1:9"  # nothing listens
    answer = client.get(f"/session/{session_id}/stm")
    assert answer.status_code == 502 and ways.taken == ["lane"]
    assert answer.json()["error"]["code"] == "KATO_PROCESSOR_UNAVAILABLE"
    assert session_id not in service.routes
    assert 'kato_proxied_requests_total{status="502"} 1.0' in client.get("/metrics").text
