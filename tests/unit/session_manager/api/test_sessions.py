"""The session routes under both prefixes: one implementation, the same session either way."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tests.unit.session_manager.api.processor_routes import ROUTES, concrete
from tests.unit.session_manager.fake_processor import FakeProcessor


def test_a_session_made_under_v2_is_the_same_under_v1(client: TestClient) -> None:
    created = client.post("/v2/sessions", json={"user_id": "alice", "ttl_seconds": 600})
    assert created.status_code == 201, created.text
    session = created.json()
    sid = session["session_id"]
    assert session["token"] and session["status"] == "running" and session["default"] is False
    v1 = client.get(f"/session/{sid}").json()
    assert client.get(f"/v2/sessions/{sid}").json() == v1
    assert client.get("/v2/sessions").json() == client.get("/sessions").json()
    assert client.get("/v2/sessions", params={"user_id": "alice"}).json()["sessions"][0][
        "session_id"
    ] == sid

    observed = client.post(f"/v2/sessions/{sid}/observe", json={"strings": ["a"]})
    assert observed.json() == {"status": "okay", "time": 1}
    assert client.get(f"/session/{sid}/stm").json() == {"stm": [["a"]]}
    hibernated = client.post(f"/v2/sessions/{sid}/hibernate")
    assert hibernated.json()["status"] == "hibernated"
    assert client.get(f"/v2/sessions/{sid}/stm").json() == {"stm": [["a"]]}  # woken on traffic

    assert client.delete(f"/v2/sessions/{sid}").status_code == 204
    for gone in (client.get(f"/v2/sessions/{sid}"), client.get(f"/session/{sid}")):
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "KATO_SESSION_NOT_FOUND")


def test_v2_create_takes_the_same_body_and_refuses_the_same_input(client: TestClient) -> None:
    for path in ("/session/create", "/v2/sessions"):
        assert client.post(path).status_code == 201  # every field optional, so is the body
        refused = client.post(path, json={"ttl_seconds": 0})
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            422,
            "KATO_VALIDATION_ERROR",
        )


def test_both_prefixes_need_the_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="k")
    for path in ("/v2/sessions", "/sessions", "/v2/sessions/" + "0" * 32 + "/stm"):
        assert client.get(path).status_code == 401


@pytest.mark.parametrize(("path", "method"), ROUTES)
def test_every_processor_route_is_served_under_both_prefixes(
    client: TestClient, processor: FakeProcessor, path: str, method: str
) -> None:
    """Over the processor's own route table: a new processor route cannot be missed."""
    session = client.post("/session/create").json()
    for prefix in ("/session", "/v2/sessions"):
        answer = client.request(method, f"{prefix}/{session['session_id']}{concrete(path)}")
        assert answer.status_code < 500, answer.text
        seen = processor.requests[-1]
        assert (seen["method"], seen["raw_path"]) == (method, concrete(path))
        assert seen["headers"]["Authorization"] == f"Bearer {session['token']}"


def test_the_websocket_is_relayed_under_both_prefixes(client: TestClient) -> None:
    sid = client.post("/v2/sessions").json()["session_id"]
    for prefix in ("/session", "/v2/sessions"):
        with client.websocket_connect(f"{prefix}/{sid}/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "echo:hi"
