"""The dashboard's HTTP side on the FakeBackend: login cookie, what the middleware accepts with
it, the page and its assets, the overview JSON and "hibernate now"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from container_manager import EngineUnavailableError, FakeBackend
from kato.web.wait import wait_until
from session_manager.dashboard import sampler as sampler_module
from session_manager.dashboard.cookie import COOKIE_NAME, CSRF_HEADER
from session_manager.dashboard.sampler import Sampler
from session_manager.events import EVENT_TYPES
from session_manager.registry import SessionRecord
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import service_of

KEY = "k3y-for-tests"
BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def keyed(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(api_key=KEY)


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/session/create", json=body, headers=BEARER)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _log_in(client: TestClient) -> None:
    assert client.post("/dashboard/login", json={"api_key": KEY}).status_code == 204


def test_wrong_key_is_refused_and_sets_no_cookie(keyed: TestClient) -> None:
    answer = keyed.post("/dashboard/login", json={"api_key": "wrong"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "KATO_UNAUTHORIZED"
    assert "set-cookie" not in answer.headers
    assert keyed.get("/dashboard/api/auth").json() == {"required": True, "authenticated": False}
    assert keyed.get("/dashboard/api/overview").status_code == 401


def test_login_sets_an_httponly_strict_cookie_that_is_not_the_key(keyed: TestClient) -> None:
    answer = keyed.post("/dashboard/login", json={"api_key": KEY})
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert KEY not in cookie
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http on loopback (see dashboard.cookie)
    assert keyed.get("/dashboard/api/auth").json() == {"required": True, "authenticated": True}
    assert keyed.get("/sessions").status_code == 200
    assert keyed.get("/dashboard/api/overview").status_code == 200

    assert keyed.post("/dashboard/logout").status_code == 204
    assert keyed.get("/sessions").status_code == 401


def test_a_forged_cookie_is_refused(keyed: TestClient) -> None:
    keyed.cookies.set(COOKIE_NAME, "0" * 64)
    assert keyed.get("/sessions").status_code == 401
    keyed.cookies.set(COOKIE_NAME, KEY)  # the key itself is not the cookie
    assert keyed.get("/sessions").status_code == 401
    assert keyed.get("/dashboard/api/auth").json()["authenticated"] is False


def test_a_change_by_cookie_needs_the_dashboard_header(keyed: TestClient) -> None:
    session = _create(keyed)
    _log_in(keyed)
    url = f"/session/{session['session_id']}"
    assert keyed.delete(url).status_code == 401  # what a same-site page could send
    assert keyed.get(url).json()["status"] == "running"
    assert keyed.delete(url, headers={CSRF_HEADER: "1"}).status_code == 204


def test_websockets_do_not_accept_the_cookie(keyed: TestClient) -> None:
    session = _create(keyed)
    _log_in(keyed)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        keyed.websocket_connect(f"/session/{session['session_id']}/ws") as socket,
    ):
        socket.receive_text()
    assert closed.value.code == 1008


def test_the_cookie_never_reaches_a_processor(keyed: TestClient, processor: FakeProcessor) -> None:
    session = _create(keyed)
    _log_in(keyed)
    keyed.cookies.set("theme", "dark")  # a cookie of the processor's own is still forwarded
    answer = keyed.get(f"/session/{session['session_id']}/stm")
    assert answer.status_code == 200
    seen = processor.requests[-1]["headers"]
    assert COOKIE_NAME not in seen.get("Cookie", "")
    assert "theme=dark" in seen.get("Cookie", "")


def test_page_and_assets_are_served_from_the_package(keyed: TestClient) -> None:
    page = keyed.get("/dashboard")
    assert page.status_code == 200
    assert "/dashboard/static/dashboard.js" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert (
        keyed.get("/dashboard/static/dashboard.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert keyed.get("/dashboard/static/dashboard.css").status_code == 200
    assert keyed.get("/dashboard/static/index.html").status_code == 404  # only listed assets
    assert keyed.get("/dashboard/static/..%2F..%2Fapp.py").status_code == 404


def test_without_an_api_key_the_dashboard_is_open(client: TestClient) -> None:
    assert client.get("/dashboard/api/auth").json() == {"required": False, "authenticated": True}
    assert client.post("/dashboard/login", json={"api_key": "x"}).status_code == 204
    assert client.get("/dashboard/api/overview").status_code == 200


def test_overview_lists_sessions_machine_and_samples(keyed: TestClient) -> None:
    session = _create(keyed, user_id="alice")
    sampler: Sampler = keyed.app.state.dashboard_sampler  # type: ignore[attr-defined]
    keyed.portal.call(sampler.sample_once)  # type: ignore[union-attr]
    keyed.post(f"/session/{session['session_id']}/observe", json={"strings": ["a"]}, headers=BEARER)
    keyed.portal.call(sampler.sample_once)  # type: ignore[union-attr]
    keyed.portal.call(sampler.read_memory_once)  # type: ignore[union-attr]

    overview = keyed.get("/dashboard/api/overview", headers=BEARER).json()
    (row,) = overview["sessions"]
    assert row["session_id"] == session["session_id"]
    assert row["user_id"] == "alice"
    assert row["status"] == "running"
    assert row["memory_bytes"] == 40 * 2**20  # FakeBackend.stats
    assert overview["machine"]["running"] == 1
    assert overview["machine"]["spawning"] == 0
    assert overview["machine"]["pool"] == {"desired": 0, "ready": 0, "starting": 0}
    assert overview["machine"]["max_sessions"] == 50
    assert overview["machine"]["engine"]["reachable"] is True
    assert overview["series"][-1]["requests_per_second"] > 0


def test_overview_is_one_page_filtered_by_the_manager(keyed: TestClient) -> None:
    """The page's search box (a part of the user id, any case) and status list are applied in
    the registry's query, so each page is full; `next_cursor` reaches the next one."""
    registry = service_of(keyed).registry
    for index, user in enumerate(["Alice", "bob", "malice", "al_x", None] * 3):
        sid = f"{index:032x}"
        status = "stopped" if index % 5 == 4 else "hibernated"
        registry.put(SessionRecord(sid, f"p{index}", user, status, 10.0 + index, 10.0 + index))

    def ids(**params: Any) -> tuple[list[int], str | None, int]:
        answer = keyed.get("/dashboard/api/overview", params=params, headers=BEARER)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return (
            [int(r["session_id"], 16) for r in body["sessions"]],
            body["next_cursor"],
            body["total"],
        )

    assert ids()[0] == list(range(15)) and ids()[1:] == (None, 15)
    first, cursor, total = ids(user="LIC", limit=4)
    assert (first, total) == ([0, 2, 5, 7], 15) and cursor
    assert ids(user="LIC", limit=4, cursor=cursor)[:2] == ([10, 12], None)
    assert ids(user="l_")[0] == [3, 8, 13]  # `_` is a character, not a wildcard
    assert ids(status="stopped")[0] == [4, 9, 14]
    assert ids(status="stopped", user="a")[0] == []
    for bad in ({"status": "pooled"}, {"cursor": "nope"}, {"limit": 1001}):
        answer = keyed.get("/dashboard/api/overview", params=bad, headers=BEARER)
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["code"] == "KATO_VALIDATION_ERROR"


def test_overview_shows_the_warm_pool(make_client: Callable[..., TestClient]) -> None:
    client = make_client(pool_size=2)
    service = service_of(client)
    wait_until("the pool is full", lambda: len(service.pool.ready) == 2)
    pool = client.get("/dashboard/api/overview").json()["machine"]["pool"]
    assert pool == {"desired": 2, "ready": 2, "starting": 0}


def test_overview_says_when_the_engine_is_down(keyed: TestClient, fake: FakeBackend) -> None:
    def unreachable() -> None:
        raise EngineUnavailableError("cannot reach the Docker engine at /var/run/docker.sock")

    fake.ping = unreachable  # type: ignore[method-assign]
    sampler: Sampler = keyed.app.state.dashboard_sampler  # type: ignore[attr-defined]
    keyed.portal.call(sampler.sample_once)  # type: ignore[union-attr]
    engine = keyed.get("/dashboard/api/overview", headers=BEARER).json()["machine"]["engine"]
    assert engine["reachable"] is False
    assert engine["code"] == "KATO_ENGINE_UNAVAILABLE"
    assert "docker.sock" not in str(engine)  # engine details go to the log only


def test_hibernate_now_ignores_the_idle_timeout(keyed: TestClient, fake: FakeBackend) -> None:
    session = _create(keyed)
    url = f"/session/{session['session_id']}"
    answer = keyed.post(f"{url}/hibernate", headers=BEARER)
    assert answer.status_code == 200
    assert answer.json()["status"] == "hibernated"
    assert fake.container_for(session["processor_id"]) is None
    assert keyed.post(f"{url}/hibernate", headers=BEARER).json()["status"] == "hibernated"
    assert 'kato_reaps_total{kind="hibernation"} 1.0' in keyed.get("/metrics", headers=BEARER).text
    # The next request wakes it as after any hibernation.
    assert keyed.get(f"{url}/stm", headers=BEARER).status_code == 200
    assert keyed.get(url, headers=BEARER).json()["status"] == "running"


def test_hibernate_now_refuses_a_busy_session_and_changes_nothing(keyed: TestClient) -> None:
    session = _create(keyed)
    service = service_of(keyed)
    service.routes[session["session_id"]].inflight += 1  # a request or WebSocket in flight
    answer = keyed.post(f"/session/{session['session_id']}/hibernate", headers=BEARER)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "KATO_SESSION_BUSY"
    assert keyed.get(f"/session/{session['session_id']}", headers=BEARER).json()["status"] == (
        "running"
    )


def test_hibernate_now_of_an_unknown_session_is_404(keyed: TestClient) -> None:
    answer = keyed.post("/session/nope/hibernate", headers=BEARER)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "KATO_SESSION_NOT_FOUND"


@pytest.mark.parametrize("stream", [True, False])
def test_overview_says_whether_the_manager_serves_events(
    make_client: Callable[..., TestClient], stream: bool
) -> None:
    client = make_client(events_stream=stream)
    overview = client.get("/dashboard/api/overview").json()
    assert overview["events"] is stream
    assert overview["event_types"] == (list(EVENT_TYPES) if stream else [])
    served = client.get("/events", params={"after": 0, "follow": "false"})
    assert served.status_code == (200 if stream else 404)  # what the overview said


def _memory_shown(client: TestClient, session_id: str) -> int | None:
    overview = client.get("/dashboard/api/overview", headers=BEARER).json()
    memory: int | None = next(
        row["memory_bytes"] for row in overview["sessions"] if row["session_id"] == session_id
    )
    return memory


def test_a_session_is_measured_as_it_starts_and_forgotten_as_it_stops(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sampler_module, "MEMORY_INTERVAL", 3600.0)  # no sweep after start-up
    client = make_client(api_key=KEY)
    session_id = _create(client)["session_id"]
    measured = 40 * 2**20  # FakeBackend.stats
    wait_until("the new session's memory", lambda: _memory_shown(client, session_id) == measured)

    client.post(f"/session/{session_id}/hibernate", headers=BEARER)
    wait_until("no reading once hibernated", lambda: _memory_shown(client, session_id) is None)
    assert client.get(f"/session/{session_id}/stm", headers=BEARER).status_code == 200  # woken
    wait_until("the woken session's memory", lambda: _memory_shown(client, session_id) == measured)


def test_processor_docs_page_is_served_without_a_key(keyed: TestClient) -> None:
    page = keyed.get("/dashboard/docs", params={"session": "abc"})
    assert page.status_code == 200
    assert "/dashboard/static/docs.js" in page.text
    assert keyed.get("/dashboard/static/docs.js").status_code == 200
