"""KATO_PROCESSOR_TOKEN: bearer token on everything but /health, including the WebSocket."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kato.services.testing import ServiceProcess
from tests.integration.kato.services.launcher import Launcher

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(module_launcher: Launcher) -> ServiceProcess:
    return module_launcher.start(processor_id="guarded", KATO_PROCESSOR_TOKEN=TOKEN)


BAD_HEADERS = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=["none", "wrong", "no_scheme"])
def test_requests_without_the_token_are_401(
    guarded: ServiceProcess, headers: dict[str, str]
) -> None:
    for method, path in (("POST", "/observe"), ("GET", "/stm"), ("GET", "/metrics")):
        answer = httpx.request(method, guarded.url + path, headers=headers, json={"strings": ["a"]})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "KATO_UNAUTHORIZED"
        assert answer.json()["status"] == 401
        assert answer.headers["www-authenticate"] == "Bearer"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(guarded.url + "/status", headers=auth).json()["time"] == 0


def test_health_is_open(guarded: ServiceProcess) -> None:
    assert httpx.get(guarded.url + "/health").json()["status"] == "healthy"


def test_token_grants_access(guarded: ServiceProcess) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = httpx.post(guarded.url + "/observe", headers=auth, json={"strings": ["a"]})
    assert answer.status_code == 200


def test_websocket_without_token_is_rejected(guarded: ServiceProcess) -> None:
    ws_url = guarded.url.replace("http://", "ws://") + "/ws"
    for url in (ws_url, ws_url + "?token=wrong"):
        with pytest.raises(InvalidStatus) as rejected, connect(url):
            pass
        assert rejected.value.response.status_code == 403


@pytest.mark.parametrize("how", ["header", "query"])
def test_websocket_with_token(guarded: ServiceProcess, how: str) -> None:
    ws_url = guarded.url.replace("http://", "ws://") + "/ws"
    url = ws_url + f"?token={TOKEN}" if how == "query" else ws_url
    headers: dict[str, str] = {"Authorization": f"Bearer {TOKEN}"} if how == "header" else {}
    with connect(url, additional_headers=headers) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"
