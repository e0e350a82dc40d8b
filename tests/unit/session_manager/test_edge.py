"""Untrusted input at the manager's edge: bounded, refused with 422 before anything is
recorded or started, and never able to break a listing afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from container_manager import (
    EngineUnavailableError,
    FakeBackend,
    KatoContainerManager,
    ProcessorStartError,
)
from session_manager.registry import SessionRecord
from tests.error_bodies import stable
from tests.unit.session_manager.support import service_of


def _create(client: TestClient, **body: object) -> dict[str, Any]:
    response = client.post("/session/create", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _refused(client: TestClient, fake: FakeBackend, body: object) -> dict[str, Any]:
    answer = client.post("/session/create", json=body)
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()
    assert error["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert error["status"] == 422
    # nothing recorded
    assert client.get("/sessions").json() == {"sessions": [], "next_cursor": None}
    assert fake.containers == {}  # nothing started
    return error


@pytest.mark.parametrize(
    "body",
    [
        {"ttl_seconds": 1_000_000_000_000},  # year 33715: the listing used to answer 500
        {"ttl_seconds": 2**63},
        {"ttl_seconds": 0},
        {"user_id": "x" * 201},
        {"user_id": "a\u0000b"},
        {"user_id": "alice smith"},
        {"user_id": "é"},
        {"genes": {"max_pattern_length": 2**64}},
        {"genes": {"max_pattern_length": 2**63}},
        {"genes": {"max_pattern_length": 2**31}},  # the processor's bound: it would not start
        {"genes": {"max_pattern_length": -1}},
        {"genes": {"recall_threshold": 1.5}},
        {"genes": {"processor_name": "a\u0000b"}},
        {"genes": {"processor_name": "x" * 201}},
        {"genes": {"no_such_gene": 1}},
        {"genes": {"memory_limit": "99999999999999999999g"}},
    ],
)
def test_out_of_range_input_is_422_and_creates_nothing(
    client: TestClient, fake: FakeBackend, body: dict[str, Any]
) -> None:
    _refused(client, fake, body)


def test_non_finite_floats_are_refused(client: TestClient, fake: FakeBackend) -> None:
    for value in ("NaN", "Infinity"):  # Python's JSON parser accepts both
        answer = client.post(
            "/session/create",
            content=f'{{"genes": {{"recall_threshold": {value}}}}}',
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
    assert fake.containers == {}


@pytest.mark.parametrize(
    ("genes", "field"),
    [
        # Above the operator's ceilings (defaults 512m, 1 CPU, 256 processes).
        ({"memory_limit": "20g"}, "memory_limit"),
        ({"cpu_limit": 2}, "cpu_limit"),
        ({"pids_limit": 100000}, "pids_limit"),
        ({"cpu_limit": 64}, "cpu_limit"),
        # Below what a processor needs: the engine used to answer with runc details (502).
        ({"memory_limit": "1b"}, "memory_limit"),
        ({"pids_limit": 1}, "pids_limit"),
        ({"cpu_limit": 0.01}, "cpu_limit"),
    ],
)
def test_clients_cannot_leave_the_operators_limits(
    client: TestClient, fake: FakeBackend, genes: dict[str, Any], field: str
) -> None:
    error = _refused(client, fake, {"genes": genes})
    assert error["error"]["details"]["errors"][0]["loc"][-1] == field


def test_limits_within_the_operators_range_apply(client: TestClient, fake: FakeBackend) -> None:
    session = _create(
        client,
        genes={
            "memory_limit": "256m",
            "cpu_limit": 0.5,
            "pids_limit": 128,
            "max_pattern_length": 3,
        },
    )
    container = fake.container_for(session["processor_id"])
    assert container is not None
    limits = container.spec.limits
    assert (limits.memory, limits.cpu, limits.pids) == ("256m", 0.5, 128)
    assert container.spec.env["MAX_PATTERN_LENGTH"] == "3"
    # Unset: the operator's own values.
    default = fake.container_for(_create(client)["processor_id"])
    assert default is not None
    assert (default.spec.limits.memory, default.spec.limits.pids) == ("512m", 256)


def test_engine_failures_are_not_shown_to_clients(client: TestClient, fake: FakeBackend) -> None:
    def refuse(container_id: str) -> None:
        raise ProcessorStartError(
            "runc create failed: /sys/fs/cgroup/kato/abc123: pids.max", {"logs": ["secret"]}
        )

    fake.start = refuse  # type: ignore[method-assign]
    answer = client.post("/session/create", json={})
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "KATO_PROCESSOR_START_FAILED",
        "the session's container could not be started",
    )
    # Our own id at most, never engine text.
    assert set(error["details"]) - {"trace_id"} <= {"processor_id"}
    assert "runc" not in answer.text and "secret" not in answer.text


def test_engine_errors_on_delete_are_not_shown_either(
    client: TestClient, containers: KatoContainerManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _create(client)

    def engine_down(*_args: object, **_kwargs: object) -> None:
        raise EngineUnavailableError("cannot connect to unix:///var/run/docker.sock", {"errno": 13})

    monkeypatch.setattr(containers, "remove_processor", engine_down)
    answer = client.delete(f"/session/{session['session_id']}")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "KATO_ENGINE_UNAVAILABLE"
    assert "docker.sock" not in answer.text and stable(answer.json())["error"]["details"] == {}
    assert client.get(f"/session/{session['session_id']}").status_code == 200  # state as it was


def test_query_parameters_are_bounded(client: TestClient) -> None:
    assert client.get("/sessions", params={"user_id": "x" * 201}).status_code == 422
    assert client.get("/sessions", params={"user_id": "a\u0000b"}).status_code == 422
    empty = {"sessions": [], "next_cursor": None}
    assert client.get("/sessions", params={"user_id": "bob"}).json() == empty


def test_one_bad_record_never_breaks_the_listing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    good = _create(client, user_id="alice")
    registry = service_of(client).registry
    bad = SessionRecord(
        session_id="f" * 32,
        processor_id="pbad",
        user_id="mallory",
        status="running",
        created_at=1.0,
        last_activity=1.0,
        expires_at=1e12 * 31.6,  # written by an earlier version without the TTL bound
    )
    registry.put(bad)
    registry._open().execute(  # and a row whose genes are not JSON at all
        "INSERT INTO sessions (session_id, processor_id, genes, status, created_at, "
        "last_activity) VALUES ('e', 'pe', '{not json', 'running', 2, 2)"
    )
    listing = client.get("/sessions")
    assert listing.status_code == 200
    assert [s["session_id"] for s in listing.json()["sessions"]] == [good["session_id"]]
    assert "cannot be shown" in caplog.text and "unreadable session record" in caplog.text
    answers_500 = TestClient(client.app, raise_server_exceptions=False)  # same app, running
    single = answers_500.get(f"/session/{bad.session_id}")
    assert single.status_code == 500  # a JSON error, no longer plain text
    assert single.json()["error"]["code"] == "KATO_INTERNAL_ERROR"


def test_tokens_only_in_create_and_get(client: TestClient) -> None:
    created = _create(client)
    assert created["token"]
    assert client.get(f"/session/{created['session_id']}").json()["token"] == created["token"]
    listed = client.get("/sessions").json()["sessions"]
    assert [s["token"] for s in listed] == [None]
    assert created["token"] not in client.get("/sessions").text


@pytest.mark.parametrize(
    ("given", "kept"),
    [("req-1", True), ("x" * 128, True), ("x" * 129, False), ("x" * 16384, False), ("a b", False)],
)
def test_request_id_is_bounded(client: TestClient, given: str, kept: bool) -> None:
    answer = client.get("/sessions", headers={"X-Request-ID": given})
    assert answer.status_code == 200
    echoed = answer.headers["x-request-id"]
    assert (echoed == given) is kept
    if not kept:
        assert len(echoed) == 32


def test_bearer_scheme_is_case_insensitive(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="k3y")
    for header in ("Bearer k3y", "bearer k3y", "BEARER  k3y"):
        assert client.get("/sessions", headers={"Authorization": header}).status_code == 200
    for header in ("Basic k3y", "bearer k3", "k3y"):
        assert client.get("/sessions", headers={"Authorization": header}).status_code == 401


def test_websocket_key_as_subprotocol(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(api_key="k3y")
    session = _create_with_key(client)
    url = f"/session/{session['session_id']}/ws"
    with client.websocket_connect(url, subprotocols=["kato", "kato.bearer.k3y"]) as ws:
        assert ws.accepted_subprotocol == "kato"  # never the one carrying the key
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(url, subprotocols=["kato", "kato.bearer.wrong"]),
    ):
        pass
    assert "k3y" not in caplog.text


def _create_with_key(client: TestClient) -> dict[str, Any]:
    answer = client.post("/session/create", json={}, headers={"Authorization": "Bearer k3y"})
    assert answer.status_code == 201
    data: dict[str, Any] = answer.json()
    return data


def test_head_where_get_is(client: TestClient) -> None:
    session = _create(client)
    for path in ("/health", "/ready", "/sessions", "/metrics", f"/session/{session['session_id']}"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    proxied = client.head(f"/session/{session['session_id']}/stm")
    assert proxied.status_code == 200
    assert proxied.content == b""


def test_405_lists_allowed_methods(client: TestClient) -> None:
    answer = client.put("/sessions")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "KATO_METHOD_NOT_ALLOWED"
    assert answer.headers["allow"] == "GET, HEAD"
    both = client.post(f"/session/{'0' * 32}")
    assert both.status_code == 405
    assert both.headers["allow"] == "DELETE, GET, HEAD"
    assert client.post("/health").headers["allow"] == "GET, HEAD"
    assert client.get("/session/create").status_code == 404  # GET /session/{id}: no such id


def test_openapi_matches_the_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    proxy = schema["paths"]["/session/{session_id}/{path}"]
    assert {p["name"] for p in proxy["get"]["parameters"]} == {"session_id", "path"}
    for status in ("404", "502", "503", "504"):
        error = proxy["post"]["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}
    create = schema["paths"]["/session/create"]["post"]["responses"]
    assert {"400", "413", "422", "503"} <= set(create)
    assert create["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=0.0.4; charset=utf-8"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_a_failing_registry_answers_503_database_error_without_its_words(
    client: TestClient,
) -> None:
    session = client.post("/session/create").json()
    service_of(client).registry._open().execute("ALTER TABLE sessions RENAME TO broken")
    for answer in (
        client.get(f"/session/{session['session_id']}"),
        client.get("/sessions"),
        client.post("/session/create"),
    ):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "KATO_DATABASE_ERROR"
        assert "broken" not in answer.text and "sqlite" not in answer.text.lower()
    service_of(client).registry._open().execute("ALTER TABLE broken RENAME TO sessions")
