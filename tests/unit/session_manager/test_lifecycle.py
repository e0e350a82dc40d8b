"""Reaper, wake, single flight, capacity and reconcile on a FakeBackend."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from container_manager import FakeBackend, KatoContainerManager
from kato.web.wait import wait_until
from session_manager.app import create_app
from session_manager.reaper import reap_once
from session_manager.reconcile import reconcile
from session_manager.sessions import SessionService
from session_manager.settings import ManagerSettings
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import Clock, service_of


def _create(client: TestClient, **body: object) -> dict[str, Any]:
    response = client.post("/session/create", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _observe(client: TestClient, session_id: str, *strings: str) -> None:
    answer = client.post(f"/session/{session_id}/observe", json={"strings": list(strings)})
    assert answer.status_code == 200, answer.text


def _later(client: TestClient, seconds: float) -> Clock:
    clock = Clock(time.time() + seconds)
    service_of(client).clock = clock
    return clock


def test_idle_session_hibernates_and_wakes_with_its_state(
    client: TestClient, fake: FakeBackend
) -> None:
    session = _create(client)
    sid, pid = session["session_id"], session["processor_id"]
    _observe(client, sid, "a")
    _observe(client, sid, "b")
    _later(client, 61)

    report = client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]
    assert report.hibernated == [sid]
    assert fake.container_for(pid) is None
    assert any(pid in name for name in fake.volumes)  # data volume kept
    view = client.get(f"/session/{sid}").json()
    assert view["status"] == "hibernated"
    assert view["url"] is None

    assert client.get(f"/session/{sid}/stm").json() == {"stm": [["a"], ["b"]]}
    woken = client.get(f"/session/{sid}").json()
    assert woken["status"] == "running"
    assert woken["token"] != session["token"]  # a new container, same processor
    assert fake.container_for(pid) is not None
    assert 'kato_reaps_total{kind="hibernation"} 1.0' in client.get("/metrics").text


def test_reaper_leaves_active_and_busy_sessions_alone(client: TestClient) -> None:
    active = _create(client)
    busy = _create(client)
    service = service_of(client)
    clock = _later(client, 61)
    _observe(client, active["session_id"], "x")  # activity at the new "now"
    route = service.routes[busy["session_id"]]
    route.inflight += 1  # a request (or an open WebSocket) is in flight
    clock.now += 30

    report = client.portal.call(reap_once, service)  # type: ignore[union-attr]
    assert report.hibernated == []
    assert {s["status"] for s in client.get("/sessions").json()["sessions"]} == {"running"}
    route.inflight -= 1


def test_expired_session_is_deleted(client: TestClient, fake: FakeBackend) -> None:
    session = _create(client, ttl_seconds=30)
    kept = _create(client)
    _later(client, 31)
    report = client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]
    assert report.expired == [session["session_id"]]
    assert fake.container_for(session["processor_id"]) is None
    assert not any(session["processor_id"] in name for name in fake.volumes)
    assert client.get(f"/session/{kept['session_id']}").json()["status"] == "running"
    # Gone, and said so, on every route, for KATO_EXPIRED_RETENTION (one day by default).
    sid = session["session_id"]
    for answer in (
        client.get(f"/session/{sid}"),
        client.get(f"/v2/sessions/{sid}/stm"),
        client.post(f"/session/{sid}/observe", json={"strings": ["a"]}),
        client.delete(f"/session/{sid}"),
    ):
        assert answer.status_code == 410, answer.text
        error = answer.json()["error"]
        assert error["code"] == "KATO_SESSION_EXPIRED" and error["details"]["session_id"] == sid
    _later(client, 31 + 86400 + 1)
    client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]
    assert client.get(f"/session/{sid}").json()["error"]["code"] == "KATO_SESSION_NOT_FOUND"


def test_a_session_past_its_ttl_answers_410_before_the_reaper_runs(client: TestClient) -> None:
    session = _create(client, ttl_seconds=30)
    # The next request looks at its record.
    client.portal.call(service_of(client).unroute, session["session_id"])  # type: ignore[union-attr]
    _later(client, 31)
    answer = client.get(f"/session/{session['session_id']}/stm")
    assert (answer.status_code, answer.json()["error"]["code"]) == (410, "KATO_SESSION_EXPIRED")


def test_concurrent_wakes_make_one_container(client: TestClient, fake: FakeBackend) -> None:
    session = _create(client)
    sid = session["session_id"]
    service = service_of(client)
    _later(client, 61)
    client.portal.call(reap_once, service)  # type: ignore[union-attr]
    assert fake.containers == {}

    async def two_wakes() -> None:
        routes = await asyncio.gather(service.acquire(sid), service.acquire(sid))
        assert routes[0] is routes[1]
        for route in routes:
            service.release(sid, route)

    client.portal.call(two_wakes)  # type: ignore[union-attr]
    assert len(fake.containers) == 1
    assert 'kato_spawns_total{outcome="ok",reason="wake"} 1.0' in client.get("/metrics").text


def test_max_sessions_gives_503_with_retry_after(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_sessions=1, retry_after=7)
    _create(client)
    full = client.post("/session/create", json={})
    assert full.status_code == 503
    assert full.headers["retry-after"] == "7"
    assert full.json()["error"]["code"] == "KATO_CAPACITY"


def test_spawn_queue_full_gives_503(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(max_concurrent_spawns=1, spawn_queue=0)
    service = service_of(client)
    fake.ready = False  # the first spawn holds its slot until the readiness timeout

    async def two_creates() -> tuple[Any, ...]:
        return await asyncio.gather(
            service.create(None, {}, None), service.create(None, {}, None), return_exceptions=True
        )

    results = client.portal.call(two_creates)  # type: ignore[union-attr]
    codes = sorted(getattr(result, "code", "") for result in results)
    assert codes == ["KATO_PROCESSOR_START_FAILED", "KATO_SPAWN_BUSY"]  # not "no room"
    (busy,) = [result for result in results if getattr(result, "code", "") == "KATO_SPAWN_BUSY"]
    assert busy.details == {"max_concurrent_spawns": 1, "starting": 1, "waiting": 0}
    # One start ahead, one slot, no start measured yet (1 s assumed): retry in 2 s.
    assert busy.headers == {"Retry-After": "2"}


def _restart(
    make_settings: Callable[..., ManagerSettings], containers: KatoContainerManager
) -> TestClient:
    client = TestClient(create_app(make_settings(), containers))
    client.__enter__()
    return client


def test_restart_adopts_running_sessions(
    make_settings: Callable[..., ManagerSettings],
    containers: KatoContainerManager,
    fake: FakeBackend,
) -> None:
    first = _restart(make_settings, containers)
    session = _create(first)
    _observe(first, session["session_id"], "a")
    first.__exit__(None, None, None)

    second = _restart(make_settings, containers)
    try:
        assert session["session_id"] in service_of(second).routes
        assert second.get(f"/session/{session['session_id']}/stm").json() == {"stm": [["a"]]}
        assert len(fake.containers) == 1
    finally:
        second.__exit__(None, None, None)


def test_vanished_container_is_marked_and_recreated(client: TestClient, fake: FakeBackend) -> None:
    session = _create(client)
    sid, pid = session["session_id"], session["processor_id"]
    container = fake.container_for(pid)
    assert container is not None
    fake.vanish(container.container_id)  # the container disappeared behind our back

    service: SessionService = service_of(client)
    report = client.portal.call(reconcile, service)  # type: ignore[union-attr]
    assert report.vanished == [sid]
    assert client.get(f"/session/{sid}").json()["status"] == "stopped"
    assert client.get(f"/session/{sid}/stm").status_code == 200
    assert client.get(f"/session/{sid}").json()["status"] == "running"
    assert fake.container_for(pid) is not None


def test_container_left_by_an_unfinished_wake_is_removed(
    client: TestClient, containers: KatoContainerManager, fake: FakeBackend
) -> None:
    session = _create(client)
    sid, pid = session["session_id"], session["processor_id"]
    service = service_of(client)
    _later(client, 61)
    client.portal.call(reap_once, service)  # type: ignore[union-attr]
    containers.create_processor(processor_id=pid)  # a wake that died before recording it

    client.portal.call(reconcile, service)  # type: ignore[union-attr]
    assert fake.container_for(pid) is None
    assert any(pid in name for name in fake.volumes)  # data volume kept
    assert client.get(f"/session/{sid}").json()["status"] == "hibernated"


def test_a_stalled_snapshot_never_delays_other_sessions(
    make_client: Callable[..., TestClient], fake: FakeBackend, processor: FakeProcessor
) -> None:
    client = make_client(snapshot_timeout=30)
    stalled, other = _create(client), _create(client)  # the stalled one is reaped first
    processor.stalled_tokens.add(f"Bearer {stalled['token']}")
    service = service_of(client)
    _later(client, 61)
    reaping = client.portal.start_task_soon(reap_once, service)  # type: ignore[union-attr]
    # Reaped one after the other, `other` would wait for the stalled snapshot (30 s) first.
    wait_until(
        "the other session hibernated meanwhile",
        lambda: client.get(f"/session/{other['session_id']}").json()["status"] == "hibernated",
    )
    assert fake.container_for(stalled["processor_id"]) is not None
    # A later pass skips the session still being reaped and does not wait for it.
    late = _create(client)
    service.clock.now += 61  # type: ignore[attr-defined]
    later_pass = client.portal.start_task_soon(reap_once, service)  # type: ignore[union-attr]
    assert later_pass.result(10).hibernated == [late["session_id"]]
    processor.release.set()
    assert reaping.result(10).hibernated == [other["session_id"], stalled["session_id"]]


def test_a_failing_snapshot_leaves_the_session_running_and_backs_off(
    make_client: Callable[..., TestClient], fake: FakeBackend, processor: FakeProcessor
) -> None:
    client = make_client(snapshot_timeout=0.2, reap_interval=30)
    session = _create(client)
    sid = session["session_id"]
    _observe(client, sid, "kept")
    processor.stalled_tokens.add(f"Bearer {session['token']}")  # a paused container
    service = service_of(client)
    clock = _later(client, 61)

    report = client.portal.call(reap_once, service)  # type: ignore[union-attr]
    assert report.failed == [sid] and report.hibernated == []
    assert client.get(f"/session/{sid}").json()["status"] == "running"  # STM not lost
    assert fake.container_for(session["processor_id"]) is not None
    assert 'kato_reap_failures_total{kind="hibernation"} 1.0' in client.get("/metrics").text

    # Within the back-off (30 s, then 60 s, ...) the session is not tried again.
    again = client.portal.call(reap_once, service)  # type: ignore[union-attr]
    assert again.backed_off == [sid] and again.failed == []
    clock.now += 31
    assert client.portal.call(reap_once, service).failed == [sid]  # type: ignore[union-attr]
    clock.now += 31
    assert client.portal.call(reap_once, service).backed_off == [sid]  # type: ignore[union-attr]

    processor.stalled_tokens.clear()  # the container answers again
    processor.release.set()
    clock.now += 31
    assert client.portal.call(reap_once, service).hibernated == [sid]  # type: ignore[union-attr]
    assert client.get(f"/session/{sid}/stm").json() == {"stm": [["kept"]]}


def test_registry_io_stays_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_of(client)
    threads: list[str] = []
    registry = service.registry
    for name in ("get", "put", "all", "delete", "snapshot", "touch_many"):
        method = getattr(registry, name)

        def spy(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            threads.append(threading.current_thread().name)
            return _method(*args, **kwargs)

        monkeypatch.setattr(registry, name, spy)
    session = _create(client)
    sid = session["session_id"]
    _observe(client, sid, "a")
    client.get("/sessions")
    client.get(f"/session/{sid}")
    _later(client, 61)
    client.portal.call(reap_once, service)  # type: ignore[union-attr]
    assert client.get(f"/session/{sid}/stm").status_code == 200  # wake: reads the snapshot
    assert client.delete(f"/session/{sid}").status_code == 204
    assert threads and all(name.startswith("registry") for name in threads), threads
