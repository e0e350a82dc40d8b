"""HTTP and WebSocket edges a client meets: HEAD wherever GET is, 405 naming every allowed method,
and WebSocket messages with unknown keys refused instead of silently ignored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.kato.services.app_helpers import observe


@pytest.mark.parametrize("path", ["/stm", "/health", "/status", "/state", "/predictions",
                                  "/gene/recall_threshold", "/metrics"])
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    observe(client, "a")
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert "x-trace-id" in head.headers


def test_head_changes_nothing_and_is_405_where_get_is(client: TestClient) -> None:
    answer = client.head("/observe")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert client.get("/status").json()["time"] == 0


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/stm", "GET, HEAD"),
        ("PUT", "/predictions", "GET, HEAD, POST"),
        ("DELETE", "/state", "GET, HEAD, PUT"),
        ("GET", "/learn", "POST"),
        ("POST", "/gene/sort", "GET, HEAD"),
    ],
)
def test_405_names_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.json()["error"]["code"] == "KATO_METHOD_NOT_ALLOWED"


def _exchange(client: TestClient, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    with client.websocket_connect("/ws") as ws:
        replies = []
        for message in messages:
            ws.send_json(message)
            replies.append(ws.receive_json())
        return replies


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ({"type": "observe", "data": {"strings": ["a"]}}, "data"),
        ({"type": "observe", "payload": {"string": ["a"]}}, "string"),
        ({"type": "get_predictions", "payload": {"uid": "x"}}, "uid"),
    ],
)
def test_ws_unknown_keys_are_an_error_and_change_nothing(
    client: TestClient, message: dict[str, Any], named: str
) -> None:
    error, status = _exchange(client, message, {"type": "get_stm"})
    assert error["type"] == "error"
    assert error["data"]["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert named in error["data"]["message"]
    assert status["data"]["stm"] == []
    assert client.get("/status").json()["time"] == 0


def test_ws_spec_shapes_keep_working(client: TestClient) -> None:
    replies = _exchange(
        client,
        {"type": "observe", "payload": {"strings": ["a"], "vectors": [], "emotives": {}}},
        {"type": "observe", "payload": {"strings": ["b"], "unique_id": "u1"}},
        {"type": "get_stm"},
        {"type": "get_predictions", "payload": {}},
        {"type": "get_predictions", "payload": {"unique_id": "u1"}},
        {"type": "ping"},
    )
    assert [reply["type"] for reply in replies] == [
        "observation_result", "observation_result", "stm", "predictions", "predictions", "pong"
    ]
    assert replies[2]["data"]["stm"] == [["a"], ["b"]]


@pytest.mark.parametrize("sent", ["x" * 129, "x" * 16384, "a b", "\u00e9t\u00e9"])
def test_unusable_trace_ids_are_replaced(client: TestClient, sent: str) -> None:
    answer = client.get("/health", headers={"X-Trace-ID": sent.encode()})
    assert answer.status_code == 200
    assert answer.headers["x-trace-id"].startswith("kato-")
    assert client.get("/health", headers={"X-Trace-ID": "t" * 128}).headers["x-trace-id"] == (
        "t" * 128
    )
