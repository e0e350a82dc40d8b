"""`KatoClient`/`AsyncKatoClient` on the real session manager app (FakeBackend containers);
the tests that take `flavour` run on both halves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kato.client import (
    AsyncKatoClient,
    AsyncSession,
    AuthError,
    CapacityError,
    Event,
    NotFoundError,
    SessionPage,
    ValidationError,
)
from kato.client._sse import EventDecoder
from kato.web.launcher import ThreadServer
from tests.unit.kato.client.support import Flavour


def test_sessions_are_created_read_listed_and_deleted(
    manager: ThreadServer, flavour: Flavour
) -> None:
    with flavour.KatoClient(manager.url) as kato:
        session = kato.create_session(user_id="bob", genes={"max_predictions": 10})
        sid = session.session_id
        assert (session.info.user_id, session.info.status) == ("bob", "running")
        assert session.info.url and session.info.token and session.info.created_at
        assert kato.get_session(sid).processor_id == session.info.processor_id
        assert [s.session_id for s in kato.list_sessions(user_id="bob")] == [sid]
        assert kato.list_sessions(user_id="alice") == []
        assert kato.attach(sid).info.session_id == sid
        assert kato.ready().running == 1
        kato.delete_session(sid)
        with pytest.raises(NotFoundError) as gone:
            kato.get_session(sid)
        assert gone.value.code == "KATO_SESSION_NOT_FOUND"
        with pytest.raises(NotFoundError):
            kato.attach(sid)


def test_a_session_block_deletes_the_session_even_when_it_fails(
    manager: ThreadServer, flavour: Flavour
) -> None:
    with flavour.KatoClient(manager.url) as kato:
        with kato.session(user_id="alice") as session:
            assert session.stm().stm == []  # proxied to the (fake) processor
            direct = session.direct()
            assert direct.url == session.info.url
            assert direct.stm().stm == []
        assert kato.list_sessions() == []
        with pytest.raises(RuntimeError), kato.session() as doomed:
            raise RuntimeError(doomed.session_id)
        assert kato.list_sessions() == []


def test_manager_errors_come_as_the_error_tree(
    make_manager: Callable[..., ThreadServer], flavour: Flavour
) -> None:
    manager = make_manager(max_sessions=1, retry_after=2)
    with flavour.KatoClient(manager.url) as kato:
        with pytest.raises(ValidationError) as invalid:
            kato.create_session(ttl_seconds=0)
        assert (invalid.value.status, invalid.value.code) == (422, "KATO_VALIDATION_ERROR")
        session = kato.create_session()
        with pytest.raises(CapacityError) as full:
            kato.create_session()  # not idempotent: not retried by default
        assert (full.value.status, full.value.retry_after) == (503, 2)
        session.delete()
        with pytest.raises(NotFoundError):
            session.stm()


def test_the_api_key_is_sent(make_manager: Callable[..., ThreadServer], flavour: Flavour) -> None:
    manager = make_manager(api_key="s3cret")
    with flavour.KatoClient(manager.url, api_key="s3cret") as kato:
        assert kato.list_sessions() == []
        assert list(kato.events(after=0, follow=False)) == []
    with flavour.KatoClient(manager.url, api_key="wrong") as intruder:
        with pytest.raises(AuthError) as refused:
            intruder.list_sessions()
        assert refused.value.code == "KATO_UNAUTHORIZED"
        with pytest.raises(AuthError):
            list(intruder.events(follow=False))


def _position(kato: Any) -> int:
    return max((e.id for e in kato.events(after=0, follow=False)), default=0)


def test_events_backlog_and_live_stream(manager: ThreadServer, flavour: Flavour) -> None:
    with flavour.KatoClient(manager.url) as kato:
        with kato.session(user_id="carol"):
            pass
        backlog = list(kato.events(after=0, follow=False))
        assert [e.type for e in backlog] == [
            "session.created",
            "session.running",
            "session.deleted",
        ]
        assert all(isinstance(e, Event) and e.user_id == "carol" for e in backlog)
        assert [e.status for e in backlog] == ["starting", "running", "deleted"]

        position = _position(kato)
        seen: list[Event] = []

        def follow() -> None:
            for event in kato.events(after=position):
                seen.append(event)
                if event.type == "session.deleted":
                    return

        reader = threading.Thread(target=follow)
        reader.start()
        session = kato.create_session(user_id="dave")
        session.delete()
        reader.join(30)
        assert not reader.is_alive()
        assert [(e.type, e.session_id) for e in seen] == [
            ("session.created", session.session_id),
            ("session.running", session.session_id),
            ("session.deleted", session.session_id),
        ]
        assert [e.id for e in seen] == list(range(position + 1, position + 4))


def test_the_decoder_follows_ids_and_reports_gaps() -> None:
    decoder = EventDecoder()
    lines = [": keepalive", "", "retry: 1000", "id: 7", "", "event: gap",
             'data: {"after": 2, "first_available": 5}', "", "id: 8", "event: session.created",
             'data: {"id": 8, "type": "session.created", "session_id": "s",',
             'data:  "user_id": null, "status": "starting", "time": "2026-01-01T00:00:00.000Z"}',
             ""]  # fmt: skip
    events = [e for e in map(decoder.feed, lines) if e is not None]
    assert [(e.id, e.type) for e in events] == [(4, "gap"), (8, "session.created")]
    assert events[1].time is not None and events[1].time.year == 2026
    assert decoder.last_id == 8


async def test_an_async_session_is_awaited_or_entered(manager: ThreadServer) -> None:
    """The one difference between the halves: `AsyncKatoClient.session()` is awaited (a session
    kept) or entered with `async with` (deleted on exit); the sync one returns the `Session`."""
    async with AsyncKatoClient(manager.url) as kato:
        async with kato.session(user_id="erin") as session:
            assert isinstance(session, AsyncSession)
            assert (await session.stm()).stm == []
        assert await kato.list_sessions() == []
        kept = await kato.session(user_id="frank")
        assert [s.session_id for s in await kato.list_sessions()] == [kept.session_id]
        await kept.delete()


def test_an_idle_stream_sends_keep_alive_comments(manager: ThreadServer) -> None:
    """The client's read timeout relies on them (KATO_EVENTS_KEEPALIVE; 0.2 s here)."""
    with httpx.stream("GET", f"{manager.url}/events", timeout=30) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["cache-control"] == "no-cache"
        lines = answer.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(lines) == "id: 0"  # where a reconnect resumes: nothing happened yet
        assert [next(lines) for _ in range(3)] == ["", ": keepalive", ""]


def test_sessions_are_listed_a_page_at_a_time(manager: ThreadServer, flavour: Flavour) -> None:
    with flavour.KatoClient(manager.url) as kato:
        made = [kato.create_session(user_id="pat" if i % 2 else "sam").session_id for i in range(5)]
        first = kato.list_sessions(limit=2)
        assert isinstance(first, SessionPage) and [s.session_id for s in first] == made[:2]
        assert first.next_cursor is not None and len(first) == 2
        second = kato.list_sessions(limit=2, cursor=first.next_cursor)
        assert [s.session_id for s in second] == made[2:4]
        last = kato.list_sessions(limit=2, cursor=second.next_cursor)
        assert [s.session_id for s in last] == made[4:] and last.next_cursor is None
        assert [s.session_id for s in kato.iter_sessions(page_size=2)] == made
        assert [s.session_id for s in kato.iter_sessions("pat", page_size=1)] == made[1::2]
        assert list(kato.iter_sessions(status="hibernated")) == []
        assert len(kato.list_sessions(status="running")) == 5
        with pytest.raises(ValidationError):
            kato.list_sessions(cursor="not-a-cursor")
        with pytest.raises(ValidationError):
            kato.list_sessions(limit=1001)
        for sid in made:
            kato.delete_session(sid)
