"""The paused tier on a FakeBackend: idle sessions paused in place, resumed by their next
request, hibernated after `KATO_IDLE_TIMEOUT`, evicted first at the cap."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from container_manager import FakeBackend
from session_manager.reaper import reap_once
from tests.unit.session_manager.support import Clock, events_of, service_of

PAUSING = {"pause_after": 30, "idle_timeout": 600}


def _session(client: TestClient, *symbols: str) -> dict[str, str]:
    session: dict[str, str] = client.post("/session/create").json()
    for symbol in symbols:
        client.post(f"/session/{session['session_id']}/observe", json={"strings": [symbol]})
    return session


def _status(fake: FakeBackend, session: dict[str, str]) -> str:
    container = fake.container_for(session["processor_id"])
    assert container is not None
    return container.status


def _reap_at(client: TestClient, later: float) -> list[str]:
    service_of(client).clock = Clock(time.time() + later)
    report = client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]
    return report.paused


def test_an_idle_session_is_paused_and_its_next_request_resumes_it(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(**PAUSING)
    idle, busy = _session(client, "a"), _session(client)
    service_of(client).clock = Clock(time.time() + 29)
    service_of(client).touch(busy["session_id"])
    assert _reap_at(client, 31) == [idle["session_id"]]  # `busy` was used 2 s ago
    assert (_status(fake, idle), _status(fake, busy)) == ("paused", "running")
    assert client.get(f"/session/{idle['session_id']}").json()["status"] == "running"
    assert _reap_at(client, 32) == []  # paused once

    assert client.get(f"/session/{idle['session_id']}/stm").json() == {"stm": [["a"]]}
    assert _status(fake, idle) == "running"
    kinds = [e["type"] for e in events_of(client) if e["session_id"] == idle["session_id"]]
    assert kinds[-2:] == ["session.paused", "session.resumed"]


def test_a_paused_session_hibernates_after_the_idle_timeout_with_its_state(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(**PAUSING)
    session = _session(client, "kept")
    _reap_at(client, 31)
    assert _status(fake, session) == "paused"
    _reap_at(client, 601)
    assert client.get(f"/session/{session['session_id']}").json()["status"] == "hibernated"
    assert fake.container_for(session["processor_id"]) is None
    assert client.get(f"/session/{session['session_id']}/stm").json() == {"stm": [["kept"]]}


def test_at_the_cap_a_paused_session_is_evicted_first(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(max_sessions=2, spawn_wait=0, evict_min_idle=3600, **PAUSING)
    paused, running = _session(client, "p"), _session(client)
    service_of(client).clock = Clock(time.time() + 29)
    service_of(client).touch(running["session_id"])
    assert _reap_at(client, 31) == [paused["session_id"]]
    created = client.post("/session/create")  # neither is idle KATO_EVICT_MIN_IDLE: paused goes
    assert created.status_code == 201, created.text
    assert client.get(f"/session/{paused['session_id']}").json()["status"] == "hibernated"
    assert client.get(f"/session/{running['session_id']}").json()["status"] == "running"


def test_a_paused_session_can_be_deleted(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(**PAUSING)
    session = _session(client)
    _reap_at(client, 31)
    assert client.delete(f"/session/{session['session_id']}").status_code == 204
    assert fake.container_for(session["processor_id"]) is None


def test_a_restarted_manager_resumes_a_container_paused_before(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(**PAUSING)
    session = _session(client, "a")
    _reap_at(client, 31)
    client.__exit__(None, None, None)
    restarted = make_client(**PAUSING)
    assert _status(fake, session) == "paused"  # start-up leaves it as it is
    assert restarted.get(f"/session/{session['session_id']}/stm").json() == {"stm": [["a"]]}
    assert _status(fake, session) == "running"


@pytest.mark.parametrize(
    "settings", [{"pause_after": 0}, {"pause_after": 600, "idle_timeout": 600}]
)
def test_the_tier_is_off_at_zero_or_at_the_idle_timeout(
    make_client: Callable[..., TestClient], fake: FakeBackend, settings: dict[str, float]
) -> None:
    client = make_client(**{**PAUSING, **settings})
    session = _session(client)
    assert _reap_at(client, 599) == []
    assert _status(fake, session) == "running"


def test_the_tier_is_off_on_an_engine_that_cannot_pause(
    make_client: Callable[..., TestClient], fake: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeBackend, "can_freeze", False)
    client = make_client(**PAUSING)
    session = _session(client)
    assert _reap_at(client, 31) == []
    assert _status(fake, session) == "running"
