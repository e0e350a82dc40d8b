"""The proxy's target: fixed scheme, host and port whatever the path, the query or the id say;
and a container that does not answer in time is a 504 sent once, never retried."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from session_manager.errors import SessionNotFoundError
from session_manager.proxy import split_session_path, upstream_url
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import listening_trap

_ID = "0123456789abcdef0123456789abcdef"
BASE = "http://127.0.0.1:40001"

HOSTILE = [
    "/@127.0.0.1:18199/steal",
    "/%2F@127.0.0.1:18199/steal",
    "//127.0.0.1:18199/steal",
    "/..%2F..%2F@evil:1/x",
    "/x@evil:1",
    "/:18199/steal",
    "/user:pass@evil/",
    "/%40evil%3A1/",
    "/http://evil:1/",
    "/\\\\evil:1/",
    "/#@evil:1/",
    "/?@evil:1",
    "/%0d%0aHost:%20evil",
]


@pytest.mark.parametrize("rest", HOSTILE)
@pytest.mark.parametrize("query", ["", "a=1", "@evil:1", "x=//evil:1/#frag"])
def test_no_input_changes_host_port_or_credentials(rest: str, query: str) -> None:
    session_id, path = split_session_path(f"/session/{_ID}{rest}")
    assert session_id == _ID
    target = upstream_url(BASE, path, query)
    assert (target.scheme, target.host, target.port) == ("http", "127.0.0.1", 40001)
    assert target.user is None and target.password is None
    assert str(target).startswith(BASE + "/")


@pytest.mark.parametrize(
    "raw",
    [
        f"/session/{_ID}%2F@127.0.0.1:18199/steal",
        f"/session/{_ID}%2Fstm",
        f"/session/%30{_ID[1:]}/stm",  # a `%`-encoded id is not an id
        f"/session/{_ID.upper()}/stm",
        f"/session/{_ID}0/stm",
        f"/session/{_ID}",
        "/session//stm",
        "/session/nope/stm",
        "/other/" + _ID + "/stm",
    ],
)
def test_only_an_exact_id_segment_routes(raw: str) -> None:
    with pytest.raises(SessionNotFoundError):
        split_session_path(raw)


@pytest.fixture
def trap() -> Iterator[socket.socket]:
    """A listener that must never be connected to (the `steal` target of the issue)."""
    with listening_trap() as sock:
        yield sock


def _accepted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _create(client: TestClient) -> dict[str, Any]:
    answer = client.post("/session/create", json={})
    assert answer.status_code == 201
    data: dict[str, Any] = answer.json()
    return data


def test_hostile_paths_reach_no_other_listener(
    client: TestClient, processor: FakeProcessor, trap: socket.socket
) -> None:
    session = _create(client)
    sid = session["session_id"]
    port = trap.getsockname()[1]
    for rest in (f"%2F@127.0.0.1:{port}/steal", "%2Fstm", f"%2F%2F127.0.0.1:{port}/x"):
        answer = client.get(f"/session/{sid}{rest}")
        assert answer.status_code == 404, rest
        assert answer.json()["error"]["code"] == "KATO_SESSION_NOT_FOUND"
    encoded = client.get(f"/session/%{ord(sid[0]):02X}{sid[1:]}/stm")
    assert encoded.status_code == 404  # used to reach the container's `/`
    seen = len(processor.requests)
    inside = client.get(f"/session/{sid}/@127.0.0.1:{port}/steal")  # a path on the container
    assert inside.status_code == 404  # the fake processor's own 404
    assert processor.requests[seen]["raw_path"] == f"/@127.0.0.1:{port}/steal"
    assert not _accepted(trap)


def test_timeout_is_504_and_never_retried(
    make_client: Callable[..., TestClient], processor: FakeProcessor
) -> None:
    client = make_client(proxy_timeout=0.3)
    session = _create(client)
    before = len(processor.requests)
    answer = client.post(f"/session/{session['session_id']}/stall", json={"strings": ["a"]})
    assert answer.status_code == 504
    body = answer.json()
    assert body["status"] == 504
    assert body["error"]["code"] == "KATO_UPSTREAM_TIMEOUT"
    processor.release.set()
    stalls = [r for r in processor.requests[before:] if r["raw_path"] == "/stall"]
    assert len(stalls) == 1  # sent once: the manager never sends a request twice
    assert 'kato_proxied_requests_total{status="504"} 1.0' in client.get("/metrics").text
