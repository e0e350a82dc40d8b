"""Who may do what: the operator, a session's owner, another user (404), a token without the
scope (403), a `sid`-limited token; on every session route under both prefixes, at the root,
on `/events` and on the operator's routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import kato.client
from container_manager import KatoContainerManager
from kato.web.launcher import ThreadServer
from session_manager.app import create_app
from session_manager.settings import ManagerSettings
from tests.unit.session_manager.support import backlog, service_of
from tests.unit.session_manager.test_portability import processor as processor  # noqa: F401

KEY = "operator-key-0123456789"
SECRET = "an-hs256-secret-of-at-least-32-chars!"
OPERATOR = {"Authorization": f"Bearer {KEY}"}
PREFIXES = ("/session", "/v2/sessions")


def token(sub: str, *, secret: str = SECRET, **claims: Any) -> str:
    payload = {"sub": sub, "exp": int(time.time()) + 300, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, **claims)}"}


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(api_key=KEY, jwt_secret=SECRET)


def _session(client: TestClient, headers: dict[str, str]) -> str:
    answer = client.post("/session/create", headers=headers)
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["session_id"]
    return session_id


#: (method, path after the session prefix, scope, success status): every HTTP route of a session.
ROUTES = [
    ("GET", "/{id}", "sessions:read", 200),
    ("POST", "/{id}/observe", "sessions:write", 200),
    ("GET", "/{id}/stm", "sessions:write", 200),
    ("POST", "/{id}/hibernate", "sessions:write", 200),
    ("GET", "/{id}/export", "sessions:write", 200),
    ("POST", "/{id}/fork", "sessions:write", 201),
    ("DELETE", "/{id}", "sessions:delete", 204),
]
_ALL_BUT = {
    scope: " ".join(
        s
        for s in ("sessions:create", "sessions:read", "sessions:write", "sessions:delete")
        if s != scope
    )
    for scope in ("sessions:read", "sessions:write", "sessions:delete")
}


def _call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body = {"strings": ["a"]} if url.endswith("/observe") else None
    return client.request(method, url, headers=headers, json=body)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "scope", "ok"), ROUTES)
def test_every_session_route_for_operator_owner_other_user_scope_and_sid(
    client: TestClient, prefix: str, method: str, path: str, scope: str, ok: int
) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    url_of = lambda sid: prefix + path.replace("{id}", sid)  # noqa: E731

    mine = _session(client, alice)
    other = _call(client, method, url_of(mine), bob)
    assert other.status_code == 404, other.text
    assert other.json()["error"]["code"] == "KATO_SESSION_NOT_FOUND"

    lacking = bearer("alice", scope=_ALL_BUT[scope])
    refused = _call(client, method, url_of(mine), lacking)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "KATO_FORBIDDEN"

    second = _session(client, alice)
    limited = bearer("alice", sid=second)
    assert _call(client, method, url_of(mine), limited).status_code == 404
    # A fork makes a new session, which a `sid` token may not.
    sid_ok = 403 if path.endswith("/fork") else ok
    assert _call(client, method, url_of(second), limited).status_code == sid_ok

    assert _call(client, method, url_of(mine), alice).status_code == ok
    by_operator = _session(client, OPERATOR)
    assert _call(client, method, url_of(by_operator), OPERATOR).status_code == ok
    assert _call(client, method, url_of(by_operator), alice).status_code == 404


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_websocket_is_the_owners_only_with_the_token_as_a_subprotocol(
    client: TestClient, prefix: str
) -> None:
    mine = _session(client, bearer("alice"))
    offered = ["kato", f"kato.bearer.{token('alice')}"]
    with client.websocket_connect(f"{prefix}/{mine}/ws", subprotocols=offered) as ws:
        assert ws.accepted_subprotocol == "kato"
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
    for headers in (bearer("bob"), bearer("alice", scope="sessions:read")):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect(f"{prefix}/{mine}/ws", headers=headers) as ws,
        ):
            ws.receive_text()
        assert closed.value.code in (4404, 4403)


def test_creates_imports_and_forks_are_owned_by_the_tokens_subject(client: TestClient) -> None:
    alice = bearer("alice")
    created = client.post("/v2/sessions", headers=alice, json={"user_id": "alice"})
    assert created.json()["user_id"] == "alice"
    for_bob = client.post("/v2/sessions", headers=alice, json={"user_id": "bob"})
    assert for_bob.status_code == 403 and for_bob.json()["error"]["code"] == "KATO_FORBIDDEN"
    no_create = bearer("alice", scope="sessions:read sessions:write")
    assert client.post("/session/create", headers=no_create).status_code == 403
    sid = created.json()["session_id"]
    assert client.post("/session/create", headers=bearer("alice", sid=sid)).status_code == 403

    client.post(f"/session/{sid}/observe", headers=alice, json={"strings": ["a"]})
    exported = client.get(f"/session/{sid}/export", headers=alice).content
    imported = client.post("/session/import", headers=alice, content=exported)
    assert imported.status_code == 201 and imported.json()["user_id"] == "alice"
    assert (
        client.post("/session/import?user_id=bob", headers=alice, content=exported).status_code
        == 403
    )
    fork = client.post(f"/session/{sid}/fork", headers=alice, json={"user_id": "bob"})
    assert fork.status_code == 403
    assert client.post(f"/session/{sid}/fork", headers=alice).json()["user_id"] == "alice"


def test_a_user_lists_only_its_own_sessions(client: TestClient) -> None:
    mine = {_session(client, bearer("alice")) for _ in range(2)}
    theirs = _session(client, bearer("bob"))
    operators = _session(client, OPERATOR)
    for list_path in ("/sessions", "/v2/sessions"):
        listed = client.get(list_path, headers=bearer("alice")).json()["sessions"]
        assert {s["session_id"] for s in listed} == mine
        everyone = client.get(list_path, headers=OPERATOR).json()["sessions"]
        assert mine | {theirs, operators} <= {s["session_id"] for s in everyone}
        assert client.get(f"{list_path}?user_id=bob", headers=bearer("alice")).status_code == 403
        one = sorted(mine)[0]
        limited = client.get(list_path, headers=bearer("alice", sid=one)).json()["sessions"]
        assert [s["session_id"] for s in limited] == [one]
    assert (
        client.get("/sessions", headers=bearer("alice", scope="sessions:write")).status_code == 403
    )


def test_root_routes_use_the_header_the_sid_or_the_users_own_default_session(
    client: TestClient,
) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    mine = _session(client, alice)
    assert client.get("/stm", headers={**bob, "X-Session-ID": mine}).status_code == 404
    assert client.get("/stm", headers={**alice, "X-Session-ID": mine}).status_code == 200
    assert client.get("/stm", headers=bearer("alice", sid=mine)).headers["x-session-id"] == mine

    alices_default = client.post("/observe", headers=alice, json={"strings": ["x"]})
    bobs_default = client.get("/stm", headers=bob)
    operators_default = client.get("/stm", headers=OPERATOR)
    ids = {
        alices_default.headers["x-session-id"],
        bobs_default.headers["x-session-id"],
        operators_default.headers["x-session-id"],
    }
    assert len(ids) == 3 and mine not in ids
    assert bobs_default.json() == {"stm": []}  # not alice's
    assert client.get("/stm", headers=alice).json() == {"stm": [["x"]]}
    record = client.get(f"/session/{alices_default.headers['x-session-id']}", headers=alice)
    assert record.json()["user_id"] == "alice" and record.json()["default"] is True
    assert client.get("/stm", headers=bearer("alice", scope="sessions:read")).status_code == 403
    # A subject named like the operator's caller gets a default session of its own.
    assert client.get("/stm", headers=bearer("operator")).headers["x-session-id"] not in ids

    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/ws", headers={**bob, "X-Session-ID": mine}) as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4404
    with client.websocket_connect("/ws", headers={**alice, "X-Session-ID": mine}) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"


def test_events_stream_only_the_users_own_sessions(client: TestClient) -> None:
    mine = _session(client, bearer("alice"))
    theirs = _session(client, bearer("bob"))
    seen = {f["data"]["session_id"] for f in backlog(client, **bearer("alice")) if "data" in f}
    assert seen == {mine}
    everyone = {f["data"]["session_id"] for f in backlog(client, **OPERATOR) if "data" in f}
    assert {mine, theirs} <= everyone
    assert (
        client.get("/events?follow=false", headers=bearer("alice", scope="sessions:write"))
    ).status_code == 403


@pytest.mark.parametrize("path", ["/metrics", "/metrics/processors", "/dashboard/api/overview"])
def test_operator_routes_refuse_user_tokens(client: TestClient, path: str) -> None:
    refused = client.get(path, headers=bearer("alice"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "KATO_FORBIDDEN"
    assert client.get(path, headers=OPERATOR).status_code == 200


def test_without_tokens_configured_a_jwt_is_just_a_wrong_key(
    make_client: Callable[..., TestClient],
) -> None:
    plain = make_client(api_key=KEY)
    answer = plain.get("/sessions", headers=bearer("alice"))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "KATO_UNAUTHORIZED"


def test_tokens_need_an_api_key(make_client: Callable[..., TestClient]) -> None:
    with pytest.raises(ValueError, match="KATO_API_KEY"):
        make_client(jwt_secret=SECRET)


def test_the_readme_example_mints_a_token_the_manager_takes(
    make_settings: Callable[..., ManagerSettings],
    containers: KatoContainerManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readme = (Path(__file__).parents[4] / "docs" / "tenancy.md").read_text()
    section = readme[readme.index("# Many users") :]
    example = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    app = create_app(make_settings(api_key=KEY, jwt_secret=SECRET), containers)
    with ThreadServer(app, access_log=False) as server:
        real_client = kato.client.KatoClient

        def at_the_test_server(url: str, **options: Any) -> Any:
            return real_client(server.url, **options)

        monkeypatch.setattr(kato.client, "KatoClient", at_the_test_server)
        scope: dict[str, Any] = {"KATO_JWT_SECRET": SECRET}
        exec(compile(example, "docs/tenancy.md", "exec"), scope)  # noqa: S102
        session = scope["s"]
        assert session.info.user_id == "alice"
        limited = scope["kato_token"]("alice", session.session_id)
        with real_client(server.url, token=limited) as kato_limited:
            assert [s.session_id for s in kato_limited.list_sessions()] == [session.session_id]


def test_a_route_without_its_owner_falls_back_to_the_record(client: TestClient) -> None:
    mine = _session(client, bearer("alice"))
    service_of(client).routes[mine].owner = None
    assert client.get(f"/session/{mine}/stm", headers=bearer("alice")).status_code == 200
    assert client.get(f"/session/{mine}/stm", headers=bearer("bob")).status_code == 404
