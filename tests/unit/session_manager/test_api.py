"""Sessions API on a FakeBackend: create/get/list/delete, proxy pass-through, errors, auth."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from container_manager import EngineUnavailableError, FakeBackend, KatoContainerManager
from kato.web.wait import wait_until
from tests.error_bodies import stable
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import service_of


def _create(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/session/create", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_create_get_list_delete(client: TestClient, fake: FakeBackend) -> None:
    created = _create(client, user_id="alice", genes={"max_pattern_length": 3}, ttl_seconds=600)
    assert created["status"] == "running"
    assert created["user_id"] == "alice"
    assert created["token"] and str(created["url"]).startswith("http://127.0.0.1:")
    assert created["expires_at"] is not None
    container = fake.container_for(str(created["processor_id"]))
    assert container is not None
    assert container.spec.labels["kato.session_id"] == created["session_id"]
    assert container.spec.env["KATO_PROCESSOR_TOKEN"] == created["token"]

    fetched = client.get(f"/session/{created['session_id']}").json()
    assert fetched["processor_id"] == created["processor_id"]
    _create(client, user_id="bob")
    assert [s["user_id"] for s in client.get("/sessions").json()["sessions"]] == ["alice", "bob"]
    only_bob = client.get("/sessions", params={"user_id": "bob"}).json()["sessions"]
    assert [s["user_id"] for s in only_bob] == ["bob"]

    assert client.delete(f"/session/{created['session_id']}").status_code == 204
    assert fake.container_for(str(created["processor_id"])) is None
    assert not any(str(created["processor_id"]) in name for name in fake.volumes)
    missing = client.get(f"/session/{created['session_id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "KATO_SESSION_NOT_FOUND"


def test_create_without_a_body_uses_the_defaults(client: TestClient) -> None:
    answer = client.post("/session/create")
    assert answer.status_code == 201
    created = answer.json()
    assert created["user_id"] is None and created["expires_at"] is None
    assert created["status"] == "running"


def test_proxy_passes_everything_through(client: TestClient, processor: FakeProcessor) -> None:
    session = _create(client)
    base = f"/session/{session['session_id']}"
    answer = client.post(
        f"{base}/observe",
        json={"strings": ["a", "b"]},
        headers={"Authorization": "Bearer client-secret", "X-Request-ID": "req-1"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"status": "okay", "time": 1}
    assert answer.headers["x-request-id"] == "req-1"
    seen = processor.requests[-1]
    assert seen["headers"]["Authorization"] == f"Bearer {session['token']}"
    assert seen["headers"]["X-Trace-ID"] == "req-1"
    assert seen["body"] == b'{"strings":["a","b"]}'

    teapot = client.get(f"{base}/teapot/PTRN%7Cabc", params={"x": "1 2"})
    assert teapot.status_code == 418
    assert teapot.content == b"short and stout"
    assert teapot.headers["x-tea"] == "yes"
    assert processor.requests[-1]["raw_path"] == "/teapot/PTRN%7Cabc?x=1+2"

    bad = client.post(f"{base}/observe", json={"strings": 5})
    assert bad.status_code == 422
    assert stable(bad.json()) == {
        "error": {"code": "KATO_VALIDATION_ERROR", "message": "bad", "details": {}},
        "status": 422,
    }
    assert client.get(f"{base}/stm").json() == {"stm": [["a", "b"]]}


def test_unknown_session_through_proxy(client: TestClient) -> None:
    answer = client.get("/session/nope/stm")
    assert answer.status_code == 404
    assert stable(answer.json()) == {
        "error": {
            "code": "KATO_SESSION_NOT_FOUND",
            "message": "no session nope",
            "details": {"session_id": "nope"},
        },
        "status": 404,
    }


def test_validation_error_shape(client: TestClient) -> None:
    answer = client.post("/session/create", json={"ttl_seconds": -1})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert body["status"] == 422
    assert body["error"]["details"]["errors"][0]["loc"] == ["body", "ttl_seconds"]


def test_bad_genes_are_a_validation_error(client: TestClient, fake: FakeBackend) -> None:
    answer = client.post("/session/create", json={"genes": {"max_pattern_length": "many"}})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert client.get("/sessions").json() == {"sessions": [], "next_cursor": None}
    assert fake.containers == {}


def test_body_limit(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=100)
    session = _create(client)
    answer = client.post(f"/session/{session['session_id']}/observe", content=b"x" * 101)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "KATO_PAYLOAD_TOO_LARGE"

    def chunks():  # no Content-Length: the limit applies while reading
        yield b"x" * 60
        yield b"x" * 60

    streamed = client.post(f"/session/{session['session_id']}/observe", content=chunks())
    assert streamed.status_code == 413


def test_api_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="k3y")
    assert client.get("/health").status_code == 200
    denied = client.get("/sessions")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "KATO_UNAUTHORIZED"
    assert client.get("/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/sessions", headers={"Authorization": "Bearer k3y"}).status_code == 200


def test_spawn_failure_is_reported(client: TestClient, fake: FakeBackend) -> None:
    fake.crash_on_start = True
    answer = client.post("/session/create", json={})
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "KATO_PROCESSOR_START_FAILED"
    assert client.get("/sessions").json() == {"sessions": [], "next_cursor": None}


def test_unreachable_container_is_502(client: TestClient, fake: FakeBackend) -> None:
    session = _create(client)
    service_route = client.app.state.service.routes[session["session_id"]]  # type: ignore[attr-defined]
    service_route.internal_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    answer = client.get(f"/session/{session['session_id']}/stm")
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "KATO_PROCESSOR_UNAVAILABLE"
    # The container still runs: the next request finds it again instead of replacing it.
    assert client.get(f"/session/{session['session_id']}/stm").status_code == 200
    assert len(fake.containers) == 1
    assert client.get(f"/session/{session['session_id']}").json()["token"] == session["token"]


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "healthy"}
    assert client.get("/ready").status_code == 200
    session = _create(client)
    client.get(f"/session/{session['session_id']}/stm")
    text = client.get("/metrics").text
    assert 'kato_sessions{status="running"} 1.0' in text
    assert 'kato_spawns_total{outcome="ok",reason="create"} 1.0' in text
    assert 'kato_proxied_requests_total{status="200"} 1.0' in text
    assert "kato_proxy_latency_seconds_count 1.0" in text  # buckets render even when empty
    assert "kato_spawn_duration_seconds_bucket" in text


def test_websocket_relay(client: TestClient) -> None:
    session = _create(client)
    with client.websocket_connect(f"/session/{session['session_id']}/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
        ws.send_bytes(b"abc")
        assert ws.receive_bytes() == b"cba"
        ws.send_text("close-4001")
        closed = ws.receive()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4001


def test_websocket_client_close_code_reaches_the_container(
    client: TestClient, processor: FakeProcessor
) -> None:
    session = _create(client)
    with client.websocket_connect(f"/session/{session['session_id']}/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
        ws.close(code=4002)
    wait_until("the container sees the close", lambda: processor.ws_close_codes)
    assert processor.ws_close_codes == [4002]


@pytest.mark.parametrize("session_id", ["nope", "0" * 32, "%30" + "0" * 31])
def test_websocket_to_unknown_session_closes_with_4404(client: TestClient, session_id: str) -> None:
    # Accepted, then closed: a browser sees the code (a refused handshake is only a 403).
    with client.websocket_connect(f"/session/{session_id}/ws") as ws:
        closed = ws.receive()
    assert closed == {"type": "websocket.close", "code": 4404, "reason": "KATO_SESSION_NOT_FOUND"}


def test_websocket_closes_cleanly_when_the_engine_fails_on_wake(
    client: TestClient, containers: KatoContainerManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _create(client)
    service_of(client).routes.pop(str(session["session_id"]))  # the next use must wake it

    def engine_down(*_args: object, **_kwargs: object) -> None:
        raise EngineUnavailableError("the Docker engine does not answer")

    monkeypatch.setattr(containers, "get_processor", engine_down)
    monkeypatch.setattr(containers, "create_processor", engine_down)
    with client.websocket_connect(f"/session/{session['session_id']}/ws") as ws:
        closed = ws.receive()
    assert closed["code"] == 1011
    assert closed["reason"] == "KATO_ENGINE_UNAVAILABLE"


def test_trace_id_is_echoed_as_request_id(client: TestClient) -> None:
    answer = client.get("/sessions", headers={"X-Trace-ID": "trace-9"})
    assert answer.headers["x-request-id"] == "trace-9"
    assert len(client.get("/sessions").headers["x-request-id"]) == 32


