"""Lifecycle events for real: a manager process, real containers, the SSE stream read with the
client, and webhooks POSTed to a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable

import pytest

from kato.client import Event, KatoClient, RetryPolicy, WebhookSignatureError, verify_webhook
from session_manager.testing import Delivery, ManagerProcess, WebhookReceiver

pytestmark = pytest.mark.docker

SECRET = "integration-webhook-secret"


def _hooked(start: Callable[..., ManagerProcess], url: str, **env: str) -> ManagerProcess:
    return start(
        KATO_WEBHOOK_URL=url,
        KATO_WEBHOOK_SECRET=SECRET,
        KATO_WEBHOOK_BACKOFF="0.2",
        KATO_WEBHOOK_BACKOFF_MAX="1",
        KATO_WEBHOOK_MAX_ATTEMPTS="100",  # a slow machine must not drop events before the end
        **env,
    )


def _verified(deliveries: list[Delivery]) -> list[Event]:
    return [verify_webhook(d.body, d.headers.get("X-Kato-Signature"), SECRET) for d in deliveries]


class _Follower(threading.Thread):
    """Reads `kato.events(after=0)` until `until(event)`; reconnects on its own."""

    def __init__(self, url: str, until: Callable[[Event], bool]) -> None:
        super().__init__(daemon=True)
        self.url, self.until = url, until
        self.events: list[Event] = []

    def run(self) -> None:
        with KatoClient(self.url, retry=RetryPolicy(attempts=60)) as kato:
            for event in kato.events(after=0):
                self.events.append(event)
                if self.until(event):
                    return


def _wait_status(kato: KatoClient, session_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while kato.get_session(session_id).status != status:
        assert time.monotonic() < deadline, f"session never became {status}"
        time.sleep(0.2)


def test_stream_and_webhook_see_create_hibernate_wake_delete_in_order(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    receiver = WebhookReceiver().start()
    try:
        manager = _hooked(
            start_manager, receiver.url, KATO_IDLE_TIMEOUT="2", KATO_REAP_INTERVAL="0.5"
        )
        with KatoClient(manager.url) as kato:
            session = kato.create_session(user_id="alice")
            sid = session.session_id
            follower = _Follower(manager.url, lambda e: e.type == "session.deleted")
            follower.start()
            session.observe(strings=["kept"])
            _wait_status(kato, sid, "hibernated")
            assert session.stm().stm == [["kept"]]  # waits for the wake, state restored
            session.delete()
            follower.join(60)
        assert not follower.is_alive()

        streamed = follower.events
        kinds = " ".join(e.type.removeprefix("session.") for e in streamed)
        # Idle time between calls may hibernate it more than once; the order cannot change.
        assert re.fullmatch(r"created running (hibernated woken )+deleted", kinds), kinds
        assert {e.session_id for e in streamed} == {sid}
        assert [e.status for e in streamed[:3]] == ["starting", "running", "hibernated"]
        assert [e.id for e in streamed] == sorted({e.id for e in streamed})

        hooked = _verified(receiver.wait_for(len(streamed)))
        assert hooked == streamed  # same events, same order, each signature valid
        tampered = receiver.deliveries[0].body.replace(b"alice", b"mallory")
        with pytest.raises(WebhookSignatureError):
            verify_webhook(tampered, receiver.deliveries[0].headers["X-Kato-Signature"], SECRET)
    finally:
        receiver.stop()


def test_a_receiver_down_across_a_manager_restart_gets_every_event(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    receiver = WebhookReceiver()  # down: nothing listens on its port yet
    manager = _hooked(start_manager, receiver.url)
    with KatoClient(manager.url) as kato:
        gone = kato.create_session(user_id="gone")
        gone.delete()
        kept = kato.create_session(user_id="kept")
    follower = _Follower(manager.url, lambda e: e.type == "session.deleted" and e.user_id == "kept")
    follower.start()
    deadline = time.monotonic() + 60
    while len(follower.events) < 5:  # the stream has caught up before the crash
        assert follower.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)

    manager.kill()
    manager.start()  # same state directory, same port: the stream reconnects
    receiver.start()
    try:
        with KatoClient(manager.url) as kato:
            kato.delete_session(kept.session_id)
            backlog = list(kato.events(after=0, follow=False))
        assert [e.type for e in backlog] == [
            "session.created",
            "session.running",
            "session.deleted",
            "session.created",
            "session.running",
            "session.deleted",
        ]
        follower.join(60)
        assert follower.events == backlog  # resumed with Last-Event-ID: nothing lost or doubled
        delivered = _verified(receiver.wait_for(len(backlog)))
        assert delivered == backlog
        assert json.loads(receiver.deliveries[0].body)["session_id"] == gone.session_id
    finally:
        receiver.stop()
