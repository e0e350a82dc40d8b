"""Lifecycle events: emitted at each state change, logged durably, served by GET /events."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from container_manager import FakeBackend
from session_manager.events import EventBus, EventLog
from session_manager.reaper import reap_once
from tests.unit.session_manager.support import Clock, backlog, events_of, service_of, sse_frames


def _create(client: TestClient, **body: object) -> str:
    response = client.post("/session/create", json=body)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def _hibernate(client: TestClient) -> None:
    service_of(client).clock = Clock(time.time() + 61)
    client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]


def test_create_hibernate_wake_delete_are_events_in_order(client: TestClient) -> None:
    sid = _create(client, user_id="alice")
    _hibernate(client)
    assert client.get(f"/session/{sid}/stm").status_code == 200  # wakes it
    assert client.delete(f"/session/{sid}").status_code == 204

    events = events_of(client)
    assert [(e["type"], e["status"]) for e in events] == [
        ("session.created", "starting"),
        ("session.running", "running"),
        ("session.hibernated", "hibernated"),
        ("session.woken", "running"),
        ("session.deleted", "deleted"),
    ]
    assert {(e["session_id"], e["user_id"], e["error_code"]) for e in events} == {
        (sid, "alice", None)
    }
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["time"].endswith("Z") for e in events)
    frames = backlog(client)
    assert [int(f["id"]) for f in frames] == ids  # SSE `id:` is the event id
    assert [f["event"] for f in frames] == [e["type"] for e in events]


def test_expiry_and_failed_spawn_are_events(client: TestClient, fake: FakeBackend) -> None:
    sid = _create(client, ttl_seconds=30)
    service_of(client).clock = Clock(time.time() + 31)
    client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]
    fake.crash_on_start = True
    assert client.post("/session/create", json={}).status_code == 502

    events = events_of(client)
    assert [(e["type"], e["status"]) for e in events[2:]] == [
        ("session.expired", "deleted"),
        ("session.created", "starting"),
        ("session.failed", "deleted"),
    ]
    assert events[2]["session_id"] == sid
    assert events[-1]["error_code"] == "KATO_PROCESSOR_START_FAILED"


def test_failed_wake_is_an_event_and_keeps_the_session_hibernated(
    client: TestClient, fake: FakeBackend
) -> None:
    sid = _create(client)
    _hibernate(client)
    fake.crash_on_start = True
    assert client.get(f"/session/{sid}/stm").status_code == 502
    failed = events_of(client)[-1]
    assert (failed["type"], failed["status"]) == ("session.failed", "hibernated")
    assert failed["error_code"] == "KATO_PROCESSOR_START_FAILED"


def test_last_event_id_resumes_after_that_event(client: TestClient) -> None:
    first = _create(client)
    second = _create(client)
    ids = [e["id"] for e in events_of(client)]
    answer = client.get(
        "/events", params={"follow": "false"}, headers={"Last-Event-ID": str(ids[1])}
    )
    assert answer.headers["content-type"].startswith("text/event-stream")
    resumed = [f["data"] for f in sse_frames(answer.text)]
    assert [e["id"] for e in resumed] == ids[2:]
    assert {e["session_id"] for e in resumed} == {second}
    assert first not in {e["session_id"] for e in resumed}


def test_without_a_position_the_stream_starts_at_the_newest_event(client: TestClient) -> None:
    _create(client)
    answer = client.get("/events", params={"follow": "false"})
    newest = events_of(client)[-1]["id"]
    assert sse_frames(answer.text) == []
    assert f"id: {newest}\n" in answer.text  # EventSource resumes from there


def test_bad_last_event_id_is_a_422(client: TestClient) -> None:
    for bad in ("abc", "-1", "99999999999999999999"):
        answer = client.get("/events", headers={"Last-Event-ID": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert client.get("/events", params={"after": -1}).status_code == 422


def test_backlog_is_bounded_and_a_gap_is_announced(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(event_backlog=3)
    for _ in range(3):
        _create(client)  # 6 events, the log keeps the last 3
    frames = backlog(client)
    assert frames[0]["event"] == "gap"
    assert frames[0]["data"] == {"after": 0, "first_available": 4}
    assert [f["data"]["id"] for f in frames[1:]] == [4, 5, 6]


def test_events_survive_a_restart_and_ids_keep_growing(
    make_client: Callable[..., TestClient],
) -> None:
    first = make_client()
    _create(first)
    before = events_of(first)
    first.__exit__(None, None, None)
    second = make_client()
    _create(second)
    after = events_of(second)
    assert after[: len(before)] == before
    assert after[len(before)]["id"] > before[-1]["id"]


def test_events_need_the_api_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="k3y")
    assert client.get("/events", params={"follow": "false"}).status_code == 401
    answer = client.get(
        "/events", params={"follow": "false"}, headers={"Authorization": "Bearer k3y"}
    )
    assert answer.status_code == 200


async def test_an_event_that_cannot_be_logged_never_fails_the_caller(tmp_path: Path) -> None:
    bus = EventBus(EventLog(tmp_path / "events.sqlite3", backlog=10))
    assert (await bus.emit("session.created", 1.0, "s", None, "starting")) is not None
    bus.log.close()  # any sqlite3.Error from now on
    assert (await bus.emit("session.deleted", 2.0, "s", None, "deleted")) is None
