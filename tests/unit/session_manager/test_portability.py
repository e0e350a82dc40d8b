"""Export, import and fork through the sessions API (FakeBackend, a fake processor that speaks
``GET /export`` / ``PUT /import``; the real engine is exercised in tests/integration)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from starlette.testclient import TestClient

from container_manager import FakeBackend
from session_manager.reaper import reap_once
from tests.error_bodies import stable
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import Clock, service_of
from tests.unit.session_manager.test_lifecycle import _create
from tests.unit.session_manager.test_lifecycle import _observe as observe


class PortableFakeProcessor(FakeProcessor):
    """Exports its per-token state as one line; imports only that line back (else 422).

    ``import_refusal`` (status, code) makes every import answer that error; ``import_dies``
    drops the connection of an import (a processor killed mid-request); ``export_stalls``
    holds every export until ``release`` is set (a paused container)."""

    import_refusal: tuple[int, str] | None = None
    import_dies = False
    export_stalls = False

    async def _http(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")
        if request.path == "/export" and self.export_stalls:
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        if request.path == "/import" and self.import_dies:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        if request.path == "/import" and self.import_refusal is not None:
            status, code = self.import_refusal  # before reading: a processor refuses early
            error = {"code": code, "message": "refused", "details": {"why": "test"}}
            return web.json_response({"error": error, "status": status}, status=status)
        if request.path == "/export" and request.method == "GET":
            line = json.dumps({"fake-export": self.state[token]}) + "\n"
            return web.Response(body=line.encode(), content_type="application/x-ndjson")
        if request.path == "/import" and request.method == "PUT":
            body = await request.read()
            try:
                self.state[token] = json.loads(body)["fake-export"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "KATO_INVALID_EXPORT", "message": "bad export", "details": {}}
                return web.json_response({"error": error, "status": 422}, status=422)
            return web.json_response({"message": "memory-imported"})
        return await super()._http(request)


@pytest.fixture
def processor() -> Iterator[PortableFakeProcessor]:
    server = PortableFakeProcessor()
    server.start()
    yield server
    server.stop()


def _observe(client: TestClient, sid: str, *symbols: str) -> None:
    """One single-symbol observation per symbol (the lifecycle helper puts all in one)."""
    for symbol in symbols:
        observe(client, sid, symbol)


def _stm(client: TestClient, sid: str) -> Any:
    return client.get(f"/session/{sid}/stm").json()["stm"]


def _export(client: TestClient, sid: str) -> bytes:
    answer = client.get(f"/session/{sid}/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    return answer.content


def test_export_then_import_makes_a_new_session_with_that_memory(client: TestClient) -> None:
    sid = _create(client, user_id="alice")["session_id"]
    _observe(client, sid, "a", "b")
    data = _export(client, sid)
    assert client.delete(f"/session/{sid}").status_code == 204

    answer = client.post("/session/import", params={"user_id": "bob"}, content=data)
    assert answer.status_code == 201, answer.text
    view = answer.json()
    assert view["user_id"] == "bob" and view["status"] == "running" and view["token"]
    assert view["session_id"] != sid
    assert _stm(client, view["session_id"]) == [["a"], ["b"]]


def test_a_refused_import_leaves_no_session(client: TestClient, fake: FakeBackend) -> None:
    answer = client.post("/session/import", content=b'{"truncated": ')
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "KATO_INVALID_EXPORT"
    assert client.get("/sessions").json() == {"sessions": [], "next_cursor": None}
    assert fake.containers == {} and fake.volumes == {}


def test_import_limit_is_its_own(make_client: Any, fake: FakeBackend) -> None:
    client = make_client(max_body_bytes=64, max_import_bytes=200)
    data = (json.dumps({"fake-export": {"stm": [["x" * 40]]}}) + "\n").encode()
    assert 64 < len(data) <= 200
    assert client.post("/session/import", content=data).status_code == 201
    big = data + b" " * 200
    declared = client.post("/session/import", content=big)
    assert declared.status_code == 413
    assert stable(declared.json())["error"]["details"] == {"max_body_bytes": 200}

    def chunked() -> Iterator[bytes]:  # no content-length: counted while streaming
        yield big[:100]
        yield big[100:]

    streamed = client.post("/session/import", content=chunked())
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "KATO_PAYLOAD_TOO_LARGE"
    assert len(client.get("/sessions").json()["sessions"]) == 1
    assert len(fake.containers) == 1


def test_exporting_a_hibernated_session_wakes_it(client: TestClient) -> None:
    sid = _create(client)["session_id"]
    _observe(client, sid, "a")
    service_of(client).clock = Clock(time.time() + 120)
    report = client.portal.call(reap_once, service_of(client))  # type: ignore[union-attr]
    assert report.hibernated == [sid]
    assert b'"stm": [["a"]]' in _export(client, sid)
    assert client.get(f"/session/{sid}").json()["status"] == "running"


def test_fork_copies_the_memory_and_both_then_diverge(client: TestClient) -> None:
    source = _create(client, user_id="alice", genes={"max_pattern_length": 5})
    sid = source["session_id"]
    _observe(client, sid, "a")
    answer = client.post(f"/session/{sid}/fork")
    assert answer.status_code == 201, answer.text
    fork = answer.json()
    assert fork["user_id"] == "alice" and fork["processor_id"] != source["processor_id"]
    fid = fork["session_id"]
    assert _stm(client, fid) == [["a"]]
    _observe(client, fid, "only-fork")
    _observe(client, sid, "only-source")
    assert _stm(client, sid) == [["a"], ["only-source"]]
    assert _stm(client, fid) == [["a"], ["only-fork"]]
    assert client.get(f"/session/{sid}").json()["status"] == "running"
    other = client.post(f"/session/{sid}/fork", json={"user_id": "carol", "ttl_seconds": 60})
    assert other.json()["user_id"] == "carol" and other.json()["expires_at"] is not None


def test_unknown_sessions_and_bad_bodies(client: TestClient) -> None:
    assert client.get("/session/nope/export").status_code == 404
    assert client.post("/session/nope/fork").json()["error"]["code"] == "KATO_SESSION_NOT_FOUND"
    sid = _create(client)["session_id"]
    assert client.post(f"/session/{sid}/fork", json={"colour": "red"}).status_code == 422
    assert client.post("/session/import", params={"ttl_seconds": 0}, content=b"x").status_code \
        == 422
    assert len(client.get("/sessions").json()["sessions"]) == 1


def test_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "application/x-ndjson" in paths["/session/import"]["post"]["requestBody"]["content"]
    assert {"/session/{session_id}/export", "/session/{session_id}/fork"} <= set(paths)


_DOCUMENT = (json.dumps({"fake-export": {"stm": [["x"]]}}) + "\n").encode()


def _sessions(client: TestClient) -> list[Any]:
    sessions: list[Any] = client.get("/sessions").json()["sessions"]
    return sessions


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "KATO_BAD_REQUEST"), (413, "KATO_PAYLOAD_TOO_LARGE"), (422, "KATO_INVALID_EXPORT")],
)
def test_a_processor_refusing_an_import_is_answered_with_its_own_error(
    client: TestClient, processor: PortableFakeProcessor, fake: FakeBackend, status: int, code: str
) -> None:
    processor.import_refusal = (status, code)
    answer = client.post("/session/import", content=_DOCUMENT)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["status"] == status
    assert _sessions(client) == [] and fake.containers == {}


def test_a_processor_failing_at_an_import_is_502_not_the_managers_500(
    client: TestClient, processor: PortableFakeProcessor, fake: FakeBackend
) -> None:
    """The processor's own 500 ("An unexpected error occurred") was passed on as if the
    manager had failed."""
    processor.import_refusal = (500, "KATO_INTERNAL_ERROR")
    answer = client.post("/session/import", content=_DOCUMENT)
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "KATO_PROCESSOR_UNAVAILABLE"
    assert error["message"] == "PUT /import failed in the session's processor (500)"
    details = stable(answer.json())["error"]["details"]
    assert details == {"status": 500, "processor_code": "KATO_INTERNAL_ERROR"}
    assert _sessions(client) == [] and fake.containers == {}


def test_a_processor_dying_during_an_import_is_502_and_leaves_no_session(
    client: TestClient, processor: PortableFakeProcessor, fake: FakeBackend
) -> None:
    processor.import_dies = True
    answer = client.post("/session/import", content=_DOCUMENT)
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "KATO_PROCESSOR_UNAVAILABLE"
    assert _sessions(client) == [] and fake.containers == {}


def test_an_export_timing_out_is_504_as_in_the_proxy(
    make_client: Any, processor: PortableFakeProcessor
) -> None:
    client = make_client(proxy_timeout=0.2)
    sid = _create(client)["session_id"]
    processor.export_stalls = True
    answer = client.get(f"/session/{sid}/export")
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["code"] == "KATO_UPSTREAM_TIMEOUT"
    forked = client.post(f"/session/{sid}/fork")
    assert forked.status_code == 504, forked.text
    assert [view["session_id"] for view in _sessions(client)] == [sid]


@pytest.mark.parametrize("failure", ["refused", "dies"])
def test_a_failed_fork_answers_the_processor_error_and_leaves_only_the_source(
    client: TestClient, processor: PortableFakeProcessor, fake: FakeBackend, failure: str
) -> None:
    sid = _create(client)["session_id"]
    if failure == "refused":
        processor.import_refusal = (413, "KATO_PAYLOAD_TOO_LARGE")
    else:
        processor.import_dies = True
    answer = client.post(f"/session/{sid}/fork")
    expected = (413, "KATO_PAYLOAD_TOO_LARGE") if failure == "refused" else (
        502, "KATO_PROCESSOR_UNAVAILABLE"
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == expected, answer.text
    assert [view["session_id"] for view in _sessions(client)] == [sid]
    assert len(fake.containers) == 1
