"""v1 routes at the manager's root: `X-Session-ID` routing and the caller's default session."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tests.unit.session_manager.api.processor_routes import ROUTES, concrete
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import service_of

#: Paths the manager serves itself: they keep their meaning at the root.
MANAGERS_OWN = {"/health", "/health/live", "/health/ready", "/health/startup", "/metrics"}



def _defaults(client: TestClient) -> list[dict[str, object]]:
    return [s for s in client.get("/sessions").json()["sessions"] if s["default"]]


@pytest.mark.parametrize(("path", "method"), ROUTES)
def test_every_processor_route_at_the_root_with_and_without_a_session_header(
    client: TestClient, processor: FakeProcessor, path: str, method: str
) -> None:
    named = client.post("/session/create").json()
    with_header = client.request(
        method, concrete(path), headers={"X-Session-ID": named["session_id"]}
    )
    if path in MANAGERS_OWN:  # the manager's answer, not a processor's
        assert all(r["raw_path"] != path for r in processor.requests)
        assert "x-session-id" not in with_header.headers
        return
    assert with_header.status_code < 500, with_header.text
    assert with_header.headers["x-session-id"] == named["session_id"]
    seen = processor.requests[-1]
    assert (seen["method"], seen["raw_path"]) == (method, concrete(path))
    assert seen["headers"]["Authorization"] == f"Bearer {named['token']}"

    without = client.request(method, concrete(path))
    (default,) = _defaults(client)
    assert without.headers["x-session-id"] == default["session_id"] != named["session_id"]
    assert processor.requests[-1]["raw_path"] == concrete(path)
    assert processor.requests[-1]["headers"]["Authorization"] != f"Bearer {named['token']}"


def test_the_default_session_is_made_once_kept_and_replaced_after_a_delete(
    client: TestClient,
) -> None:
    assert _defaults(client) == []
    first = client.post("/observe", json={"strings": ["a"]})
    assert first.json() == {"status": "okay", "time": 1}
    (default,) = _defaults(client)
    sid = default["session_id"]
    assert first.headers["x-session-id"] == sid
    assert default["user_id"] is None and default["expires_at"] is None
    assert client.get("/stm").json() == {"stm": [["a"]]}  # the same session again
    assert client.get(f"/session/{sid}/stm").json() == {"stm": [["a"]]}

    client.post(f"/session/{sid}/hibernate")
    assert client.get("/stm").json() == {"stm": [["a"]]}  # woken, like any session
    assert client.delete(f"/session/{sid}").status_code == 204
    again = client.get("/stm")
    assert again.json() == {"stm": []}  # a new, empty default session
    (replacement,) = _defaults(client)
    assert again.headers["x-session-id"] == replacement["session_id"] != sid


def test_first_requests_arriving_together_make_one_default_session(client: TestClient) -> None:
    answers: list[str] = []
    start = threading.Barrier(8)

    def observe() -> None:
        start.wait()
        answers.append(client.post("/observe", json={"strings": ["x"]}).headers["x-session-id"])

    threads = [threading.Thread(target=observe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(answers)) == 1 and len(_defaults(client)) == 1
    assert len(client.get("/stm").json()["stm"]) == 8


def test_the_default_session_survives_a_manager_restart(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    sid = client.post("/observe", json={"strings": ["a"]}).headers["x-session-id"]
    client.__exit__(None, None, None)
    restarted = make_client()
    assert restarted.get("/stm").headers["x-session-id"] == sid


@pytest.mark.parametrize("given", ["0" * 32, "not-a-session", "x" * 300])
def test_an_unknown_session_header_is_a_404_and_makes_nothing(
    client: TestClient, given: str
) -> None:
    answer = client.get("/stm", headers={"X-Session-ID": given})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "KATO_SESSION_NOT_FOUND")
    assert answer.json()["error"]["details"]["session_id"] == given[:64]
    assert client.get("/sessions").json()["sessions"] == []


def test_root_routes_need_the_key_like_every_other(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="k")
    assert client.post("/observe", json={"strings": ["a"]}).status_code == 401
    assert service_of(client).routes == {}  # nothing made for an unauthenticated caller
    keyed = client.post("/observe", json={"strings": ["a"]}, headers={"Authorization": "Bearer k"})
    assert keyed.status_code == 200


def test_the_root_websocket_goes_to_the_named_or_the_default_session(
    client: TestClient,
) -> None:
    named = client.post("/session/create").json()["session_id"]
    with client.websocket_connect("/ws", headers={"X-Session-ID": named}) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
    assert _defaults(client) == []
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
    assert len(_defaults(client)) == 1


def test_the_manager_keeps_its_own_paths_at_the_root(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "healthy"
    assert client.get("/metrics").text.startswith("#")
    assert _defaults(client) == []  # no session was made for them
