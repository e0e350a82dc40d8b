"""WebSocket /ws over a real connection: every message type, errors keep the socket open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from kato.services.testing import ServiceProcess


@pytest.fixture
def ws(client: httpx.Client, shared_service: ServiceProcess) -> Iterator[ClientConnection]:
    with connect(shared_service.url.replace("http://", "ws://") + "/ws") as connection:
        yield connection


def ask(ws: ClientConnection, kind: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind}
    if payload is not None:
        message["payload"] = payload
    ws.send(json.dumps(message))
    reply: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return reply


def test_every_message_type(ws: ClientConnection, client: httpx.Client) -> None:
    for symbol in ("a", "b", "c"):
        reply = ask(ws, "observe", {"strings": [symbol]})
        assert reply["type"] == "observation_result"
        assert reply["data"]["status"] == "okay"
        assert reply["data"]["unique_id"].startswith("ws-")
    assert ask(ws, "get_stm") == {
        "type": "stm",
        "data": {"stm": [["a"], ["b"], ["c"]], "processor_id": "shared"},
    }
    learned = ask(ws, "learn")
    assert learned["type"] == "learn_result"
    assert learned["data"]["pattern_name"].startswith("PTRN|")
    ask(ws, "observe", {"strings": ["a"]})
    observed = ask(ws, "observe", {"strings": ["b"], "unique_id": "mine"})
    assert observed["data"]["unique_id"] == "mine"
    cached = ask(ws, "get_predictions")
    assert cached["type"] == "predictions"
    assert [p["name"] for p in cached["data"]["predictions"]] == [learned["data"]["pattern_name"]]
    assert cached["data"] == client.get("/predictions").json()
    assert ask(ws, "get_predictions", {"unique_id": "mine"})["data"] == cached["data"]
    assert ask(ws, "clear_stm")["data"] == {
        "status": "okay",
        "message": "stm-cleared",
        "processor_id": "shared",
    }
    assert client.get("/stm").json()["stm"] == []
    pong = ask(ws, "ping")
    assert pong["type"] == "pong" and pong["data"]["processor_id"] == "shared"
    assert ask(ws, "clear_all")["data"]["message"] == "all-cleared"
    assert client.get("/metrics").json()["patterns_learned"] == 0


def test_ws_observe_is_validated_like_http(ws: ClientConnection, client: httpx.Client) -> None:
    """Integer vectors give the HTTP (float) name: QUIRK-10 fixed; missing keys default."""
    ask(ws, "observe", {"vectors": [[1, 0, 0]]})
    assert client.get("/stm").json()["stm"] == [["VCTR|9d58821e286eae6a77923d694a12ede7cbeabfbd"]]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "observe", "payload": {"strings": [1]}},
        {"type": "observe", "payload": {"vectors": [[1.0], [1.0, 2.0]]}},
        {"type": "observe", "payload": {"emotives": {"joy": "NaN"}}},
        {"payload": {}},
        [1, 2],
    ],
    ids=["number_symbol", "unequal_vectors", "nan_emotive", "no_type", "not_an_object"],
)
def test_validation_error_keeps_socket_open(
    ws: ClientConnection, client: httpx.Client, message: Any
) -> None:
    ws.send(json.dumps(message))
    reply = json.loads(ws.recv(timeout=10))
    assert reply["type"] == "error"
    assert reply["data"]["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert reply["data"]["message"] == reply["data"]["error"]["message"]
    assert client.get("/status").json()["time"] == 0
    assert ask(ws, "ping")["type"] == "pong"


def test_unknown_type_is_an_error_message(ws: ClientConnection) -> None:
    reply = ask(ws, "dance")
    assert reply["type"] == "error"
    assert reply["data"]["message"] == "Unknown message type: dance"
    assert ask(ws, "ping")["type"] == "pong"


def test_non_json_closes_with_1011(ws: ClientConnection) -> None:
    ws.send("this is not json")
    with pytest.raises(ConnectionClosedError) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
