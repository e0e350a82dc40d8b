"""The manager's side of the router seam (`SessionService` and `routing.router`) on a fake
router: routes added when a container answers and removed before it is paused,
snapshotted or deleted; a session busy at the router is not hibernated; the router's activity
keeps a session awake; a restarted manager re-synchronises the router's routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import pytest
from starlette.testclient import TestClient

from container_manager import FakeBackend
from session_manager.reaper import reap_once
from session_manager.reconcile import reconcile
from session_manager.routing import Activity, RouteTarget
from tests.unit.session_manager.routing.fake_router import FakeRouter
from tests.unit.session_manager.support import Clock, service_of

MakeClient = Callable[..., TestClient]


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


@pytest.fixture
def start(make_client: MakeClient, router: FakeRouter) -> MakeClient:
    return partial(make_client, lambda _: router)


def _create(client: TestClient, *symbols: str) -> str:
    session_id: str = client.post("/session/create").json()["session_id"]
    for symbol in symbols:
        client.post(f"/session/{session_id}/observe", json={"strings": [symbol]})
    return session_id


def _reap_at(client: TestClient, later: float) -> object:
    service_of(client).clock = Clock(time.time() + later)
    return client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]


def test_a_created_session_is_routed_at_its_container(
    start: MakeClient, router: FakeRouter, fake: FakeBackend
) -> None:
    client = start()
    session_id = _create(client)
    route = service_of(client).routes[session_id]
    assert router.table == {session_id: RouteTarget(session_id, route.internal_url, route.token)}
    assert router.started == 1


def test_delete_removes_the_route(start: MakeClient, router: FakeRouter) -> None:
    client = start()
    session_id = _create(client)
    assert client.delete(f"/session/{session_id}").status_code == 204
    assert router.table == {} and router.calls[-1] == ("remove", session_id)


def test_hibernation_removes_the_route_before_the_snapshot_and_a_wake_adds_it(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    session_id = _create(client, "kept")
    assert client.post(f"/session/{session_id}/hibernate").status_code == 200
    assert session_id not in router.table
    assert client.get(f"/session/{session_id}/stm").json() == {"stm": [["kept"]]}
    assert session_id in router.table
    assert [c for c in router.calls if c[1] == session_id] == [
        ("add", session_id),
        ("remove", session_id),
        ("add", session_id),
    ]


def test_a_session_with_a_request_open_at_the_router_is_not_hibernated(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    session_id = _create(client, "a")
    router.seen[session_id] = Activity(last_request=time.time() - 3600, open=1, requests=7)
    service = service_of(client)
    service.clock = Clock(time.time() + 3600)
    hibernated = client.portal.call(service.hibernate, session_id)  # type: ignore[union-attr]
    assert hibernated is False
    assert session_id in router.table  # given back: the router serves it on
    assert client.get(f"/session/{session_id}").json()["status"] == "running"
    router.seen[session_id] = Activity(last_request=time.time() - 3600, open=0, requests=7)
    service.clock = Clock(time.time() + 7200)  # the refusal counted as activity: idle again
    assert client.portal.call(service.hibernate, session_id) is True  # type: ignore[union-attr]
    assert session_id not in router.table


def test_a_hibernation_waits_for_the_requests_on_their_way_through_the_router(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    session_id = _create(client, "a")
    router.seen[session_id] = Activity(last_request=time.time(), open=2, requests=9)
    router.drain_after = router.activity_reads + 3  # they end while the route is withdrawn
    answer = client.post(f"/session/{session_id}/hibernate")
    assert answer.json()["status"] == "hibernated", answer.text
    assert session_id not in router.table
    assert client.get(f"/session/{session_id}/stm").json()["stm"] == [["a"]]


def test_traffic_the_router_carried_keeps_a_session_awake(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start(idle_timeout=60)
    quiet, busy = _create(client), _create(client)
    later = time.time() + 120
    router.seen[busy] = Activity(last_request=later - 5, open=0, requests=3)
    report = _reap_at(client, 120)
    assert report.hibernated == [quiet]  # type: ignore[attr-defined]
    assert client.get(f"/session/{busy}").json()["status"] == "running"


def test_an_open_socket_at_the_router_counts_as_activity(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start(idle_timeout=60)
    session_id = _create(client)
    router.seen[session_id] = Activity(last_request=None, open=1, requests=1)
    assert _reap_at(client, 120).hibernated == []  # type: ignore[attr-defined]


def test_a_paused_session_is_unrouted_until_its_next_request(
    start: MakeClient, router: FakeRouter, fake: FakeBackend
) -> None:
    client = start(pause_after=30, idle_timeout=600)
    session_id = _create(client, "a")
    assert _reap_at(client, 31).paused == [session_id]  # type: ignore[attr-defined]
    assert session_id not in router.table  # its requests reach the manager, which resumes it
    assert client.get(f"/session/{session_id}/stm").json() == {"stm": [["a"]]}
    assert session_id in router.table


def test_a_router_that_cannot_be_told_fails_no_create(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    router.broken = OSError("admin socket gone")
    answer = client.post("/session/create")
    assert answer.status_code == 201, answer.text  # the manager serves its misses itself
    session_id = answer.json()["session_id"]
    assert client.get(f"/session/{session_id}/stm").status_code == 200
    router.broken = None
    client.portal.call(reconcile, service_of(client))  # type: ignore[union-attr]
    assert session_id in router.table


def test_a_hibernation_the_router_cannot_confirm_does_not_happen(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    session_id = _create(client, "a")
    router.broken = OSError("admin socket gone")
    service = service_of(client)
    with pytest.raises(OSError):
        client.portal.call(partial(service.hibernate, force=True), session_id)  # type: ignore[union-attr]
    router.broken = None
    assert client.get(f"/session/{session_id}").json()["status"] == "running"
    assert client.get(f"/session/{session_id}/stm").json() == {"stm": [["a"]]}


def test_a_restarted_manager_resynchronises_the_routes(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    kept, gone = _create(client), _create(client)
    client.post(f"/session/{gone}/hibernate")
    client.__exit__(None, None, None)
    assert router.closed == 1 and kept in router.table  # left serving
    stale = "f" * 32
    router.table[stale] = RouteTarget(stale, "http://127.0.0.1:9", "t")  # not the registry's
    del router.table[kept]
    start()
    assert set(router.table) == {kept}


def test_the_routers_counts_of_running_sessions_are_in_the_metrics(
    start: MakeClient, router: FakeRouter
) -> None:
    client = start()
    running, gone = _create(client), "e" * 32
    router.seen[running] = Activity(last_request=time.time(), open=2, requests=9)
    router.seen[gone] = Activity(last_request=time.time(), open=0, requests=4)  # not running
    _reap_at(client, 1)
    text = client.get("/metrics").text
    assert f'kato_router_session_requests{{session_id="{running}"}} 9.0' in text
    assert f'kato_router_session_open{{session_id="{running}"}} 2.0' in text
    assert gone not in text
