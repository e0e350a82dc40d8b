"""Token checks and /metrics content negotiation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from kato.services.auth import TokenCheck
from kato.services.metrics import wants_prometheus
from tests.unit.kato.services.app_helpers import MakeClient

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def test_token_check() -> None:
    check = TokenCheck("tok")
    assert check.enabled
    assert check.header_ok([(b"authorization", b"Bearer tok")])
    assert not check.header_ok([(b"authorization", b"Bearer tok2")])
    assert not check.header_ok([(b"authorization", b"tok")])
    assert check.websocket_ok([], b"token=tok")
    assert not check.websocket_ok([], b"token=nope")
    assert check.exempt("/health", "GET") and check.exempt("/observe", "OPTIONS")
    assert not check.exempt("/observe", "POST")
    open_api = TokenCheck(None)
    assert not open_api.enabled and open_api.header_ok([]) and open_api.websocket_ok([], b"")


def test_auth_in_the_app(make_client: MakeClient) -> None:
    client: TestClient = make_client(KATO_PROCESSOR_TOKEN="tok")
    assert client.get("/health").status_code == 200
    denied = client.get("/stm")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "KATO_UNAUTHORIZED"
    assert denied.headers["x-trace-id"]
    assert client.get("/stm", headers={"Authorization": "Bearer tok"}).status_code == 200
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass
    assert closed.value.code == 1008


@pytest.mark.parametrize(
    ("accept", "prometheus"),
    [
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/html,application/xhtml+xml", False),
        ("text/plain;version=0.0.4", True),
        (PROMETHEUS_ACCEPT, True),
    ],
)
def test_negotiation(accept: str, prometheus: bool) -> None:
    assert wants_prometheus(accept) is prometheus


def test_metrics_json_and_prometheus(client: TestClient) -> None:
    client.post("/observe", json={"strings": ["a"]})
    assert client.post("/observe", json={"strings": [1]}).status_code == 422
    counters = client.get("/metrics").json()
    assert {k: counters[k] for k in counters if k != "uptime_seconds"} == {
        "processor_id": "unit",
        "observations_processed": 1,
        "patterns_learned": 0,
        "stm_size": 1,
    }
    text = client.get("/metrics", headers={"Accept": "text/plain;version=0.0.4"})
    assert text.headers["content-type"].startswith("text/plain")
    assert 'kato_http_requests_total{method="POST",route="/observe",status="200"} 1.0' in text.text
    assert 'kato_http_requests_total{method="POST",route="/observe",status="422"} 1.0' in text.text
    assert "kato_observations_processed 1.0" in text.text
    assert 'kato_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/observe"}' in (
        text.text
    )
    openmetrics = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
    always = client.get("/metrics/prometheus")
    assert "kato_stm_size 1.0" in always.text


def test_websocket_in_process(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "observe", "payload": {"strings": ["a"], "vectors": [[1, 0, 0]]}})
        assert ws.receive_json()["data"]["time"] == 1
        ws.send_json({"type": "get_stm"})
        assert ws.receive_json()["data"]["stm"] == [
            ["VCTR|9d58821e286eae6a77923d694a12ede7cbeabfbd", "a"]
        ]
    text = client.get("/metrics/prometheus").text
    assert 'kato_ws_messages_total{type="observe"} 1.0' in text


def test_websocket_oversized_message_is_an_error_reply(make_client: MakeClient) -> None:
    client = make_client(KATO_MAX_BODY_BYTES=64)
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "observe", "payload": {"strings": ["x" * 100]}})
        reply = ws.receive_json()
        assert reply["type"] == "error"
        assert reply["data"]["error"]["code"] == "KATO_PAYLOAD_TOO_LARGE"
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
    assert client.get("/status").json()["time"] == 0
