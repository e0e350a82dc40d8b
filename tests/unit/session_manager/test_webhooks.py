"""Webhooks: signed, ordered, retried with back-off, dropped after the last attempt, durable
across restarts; delivered to a real HTTP receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pydantic
import pytest
from starlette.testclient import TestClient

from kato.client import WebhookSignatureError, verify_webhook
from kato.web.wait import wait_until
from kato.webhook_signing import signature_header
from session_manager.backoff import delay as backoff_delay
from session_manager.settings import ManagerSettings
from session_manager.testing import Delivery, WebhookReceiver

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _hooked(make_client: Callable[..., TestClient], url: str, **overrides: object) -> TestClient:
    return make_client(
        webhook_url=url,
        webhook_secret=SECRET,
        webhook_backoff=0.02,
        webhook_backoff_max=0.1,
        **{"webhook_max_attempts": 100, **overrides},
    )


def _create(client: TestClient) -> str:
    answer = client.post("/session/create", json={"user_id": "u"})
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["session_id"]
    return session_id


def _metric(client: TestClient, outcome: str) -> float:
    prefix = f'kato_webhook_deliveries_total{{outcome="{outcome}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def _eventually(condition: Callable[[], bool], what: str) -> None:
    wait_until(what, condition, interval=0.02)


def _types(deliveries: list[Delivery]) -> list[str]:
    return [
        verify_webhook(d.body, d.headers.get("X-Kato-Signature"), SECRET).type for d in deliveries
    ]


def test_webhook_settings_are_checked() -> None:
    with pytest.raises(pydantic.ValidationError, match="KATO_WEBHOOK_SECRET is required"):
        ManagerSettings(webhook_url="http://127.0.0.1:9/hook")
    with pytest.raises(pydantic.ValidationError, match="not an http"):
        ManagerSettings(webhook_url="ftp://example.org/x", webhook_secret=SECRET)
    with pytest.raises(pydantic.ValidationError):
        ManagerSettings(webhook_url="http://a/x", webhook_secret="short")
    settings = ManagerSettings(webhook_url=" http://a/x , https://b/y ", webhook_secret=SECRET)
    assert settings.webhook_urls == ("http://a/x", "https://b/y")


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(10_000, 1.0, 300.0) == 300.0


def test_events_are_posted_signed_and_in_order(
    make_client: Callable[..., TestClient], receiver: WebhookReceiver
) -> None:
    client = _hooked(make_client, receiver.url)
    sid = _create(client)
    assert client.delete(f"/session/{sid}").status_code == 204
    deliveries = receiver.wait_for(3)
    assert _types(deliveries) == ["session.created", "session.running", "session.deleted"]
    events = [json.loads(d.body) for d in deliveries]
    assert [d.headers["X-Kato-Event-Id"] for d in deliveries] == [str(e["id"]) for e in events]
    assert {e["session_id"] for e in events} == {sid}
    _eventually(lambda: _metric(client, "delivered") == 3, "deliveries not counted")


def test_a_bad_signature_is_detected_by_the_helper(
    make_client: Callable[..., TestClient], receiver: WebhookReceiver
) -> None:
    client = _hooked(make_client, receiver.url)
    _create(client)
    delivery = receiver.wait_for(1)[0]
    header = delivery.headers["X-Kato-Signature"]
    assert verify_webhook(delivery.body, header, SECRET).type == "session.created"
    tampered = delivery.body.replace(b'"u"', b'"mallory"')
    for body, signature, secret in (
        (tampered, header, SECRET),  # body changed
        (delivery.body, header, SECRET + "x"),  # other secret
        (delivery.body, None, SECRET),  # unsigned
        (delivery.body, "t=1,v1=" + "0" * 64, SECRET),  # malformed signature
        (delivery.body, signature_header(SECRET, delivery.body, 1_000), SECRET),  # replayed
    ):
        with pytest.raises(WebhookSignatureError) as caught:
            verify_webhook(body, signature, secret)
        assert caught.value.code == "KATO_BAD_SIGNATURE"


def test_a_failing_receiver_gets_every_event_once_it_recovers(
    make_client: Callable[..., TestClient], receiver: WebhookReceiver
) -> None:
    receiver.status = 503
    client = _hooked(make_client, receiver.url)
    sid = _create(client)  # the request path never waits for the receiver
    assert client.delete(f"/session/{sid}").status_code == 204
    _eventually(lambda: _metric(client, "failed") >= 2, "no failed attempt counted")
    receiver.status = 200
    assert _types(receiver.wait_for(3)) == [
        "session.created",
        "session.running",
        "session.deleted",
    ]
    _eventually(lambda: _metric(client, "delivered") == 3, "deliveries not counted")
    assert _metric(client, "dropped") == 0


def test_an_event_is_dropped_after_the_last_attempt_and_the_next_one_goes(
    make_client: Callable[..., TestClient], receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    client = _hooked(make_client, receiver.url, webhook_max_attempts=2)
    _create(client)
    _eventually(lambda: _metric(client, "dropped") == 2, "events were not dropped")
    assert _metric(client, "failed") == 2  # one retry each before the drop
    assert "kato_webhook_outbox_pending 0.0" in client.get("/metrics").text
    receiver.status = 200
    sid = _create(client)
    assert [json.loads(d.body)["session_id"] for d in receiver.wait_for(2)] == [sid, sid]


def test_the_outbox_survives_a_restart_while_the_receiver_is_down(
    make_client: Callable[..., TestClient],
) -> None:
    down = WebhookReceiver()  # nothing listens on its port yet
    first = _hooked(make_client, down.url)
    sid = _create(first)
    assert first.delete(f"/session/{sid}").status_code == 204
    _eventually(lambda: _metric(first, "failed") >= 1, "no attempt was made")
    first.__exit__(None, None, None)

    up = WebhookReceiver(down.port).start()
    try:
        second = _hooked(make_client, up.url)
        assert _types(up.wait_for(3)) == [
            "session.created",
            "session.running",
            "session.deleted",
        ]
        _eventually(lambda: _metric(second, "delivered") == 3, "deliveries not counted")
    finally:
        up.stop()


def test_a_down_receiver_keeps_only_the_newest_backlog_of_events(
    make_client: Callable[..., TestClient], receiver: WebhookReceiver
) -> None:
    receiver.status = 503
    client = _hooked(make_client, receiver.url, event_backlog=2, webhook_max_attempts=100)
    _create(client)
    _create(client)  # 4 events, 2 may wait
    _eventually(lambda: _metric(client, "dropped") == 2, "the queue was not trimmed")
    newest = _logged_ids(client)[-2:]
    receiver.status = 200
    assert [int(d.headers["X-Kato-Event-Id"]) for d in receiver.wait_for(2)] == newest


def test_deliveries_to_a_url_no_longer_configured_are_dropped_at_start(
    make_client: Callable[..., TestClient], receiver: WebhookReceiver
) -> None:
    old = WebhookReceiver()  # never up
    first = _hooked(make_client, old.url)
    _create(first)
    first.__exit__(None, None, None)
    second = _hooked(make_client, receiver.url)
    assert _metric(second, "dropped") == 2
    sid = _create(second)
    assert {json.loads(d.body)["session_id"] for d in receiver.wait_for(2)} == {sid}
    _eventually(
        lambda: "kato_webhook_outbox_pending 0.0" in second.get("/metrics").text,
        "the outbox did not empty",
    )


def _logged_ids(client: TestClient) -> list[int]:
    """Ids of the logged events (the stream's first `id:` line is its starting position)."""
    text = client.get("/events", params={"after": 0, "follow": "false"}).text
    return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")][1:]
