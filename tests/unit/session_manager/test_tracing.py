"""The manager's part of a trace: the trace id it answers and logs under, the `traceparent` it
sends its processors (HTTP and WebSocket), and with tracing on the spans of its steps (create,
claim, spawn, proxy, hibernate, wake, export, import) and how they link."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from kato.web.tracing import parse_traceparent
from kato.web.wait import wait_until
from session_manager.logs import json_formatter
from tests.spans import by_name, hex_trace_id, parent_of
from tests.unit.session_manager.fake_processor import FakeProcessor
from tests.unit.session_manager.support import service_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HEADER = f"00-{TRACE}-00f067aa0ba902b7-01"


def _sent(processor: FakeProcessor, path: str, method: str | None = None) -> list[str]:
    """The `traceparent` headers of every request the processor got for `path`."""
    return [
        value
        for r in processor.requests
        if r["raw_path"].startswith(path) and method in (None, r["method"])
        for key, value in r["headers"].items()
        if key.lower() == "traceparent"
    ]


class _Lines(logging.Handler):
    """The manager's JSON lines as written (context fields are read when a line is made)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(json_formatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _create(client: TestClient, **headers: str) -> str:
    answer = client.post("/session/create", json={}, headers=headers)
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["session_id"]
    return session_id


# -- tracing off: the trace id still travels ---------------------------------------------------


def test_the_callers_trace_reaches_the_processor_once(
    client: TestClient, processor: FakeProcessor
) -> None:
    session_id = _create(client)
    answer = client.get(f"/session/{session_id}/stm", headers={"traceparent": HEADER})
    assert answer.status_code == 200
    assert _sent(processor, "/stm") == [HEADER]  # ours replaced the client's: never two


def test_a_request_without_a_trace_starts_one_the_processor_shares(
    client: TestClient, processor: FakeProcessor
) -> None:
    session_id = _create(client)
    client.get(f"/session/{session_id}/stm", headers={"traceparent": "00-bad"})
    (sent,) = _sent(processor, "/stm")
    parent = parse_traceparent(sent)
    assert parent is not None and parent.trace_id != TRACE


@pytest.fixture
def lines() -> Any:
    handler, root = _Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_an_error_body_and_every_log_line_carry_the_trace_id(
    client: TestClient, lines: list[dict[str, Any]]
) -> None:
    session_id = _create(client)
    lines.clear()
    client.delete(f"/session/{session_id}", headers={"traceparent": HEADER})
    answer = client.get(f"/session/{session_id}", headers={"traceparent": HEADER})
    assert answer.status_code == 404
    assert answer.json()["error"]["details"]["trace_id"] == TRACE
    request_id = answer.headers["x-request-id"]
    assert request_id != TRACE  # the request id stays a request id
    ours = [line for line in lines if line["logger"].startswith("session_manager")]
    assert {"session deleted", "request"} <= {line["message"] for line in ours}
    assert all(line.get("trace_id") == TRACE for line in ours), ours
    assert ours[-1]["request_id"] == request_id


def test_the_websocket_open_carries_the_trace(client: TestClient, processor: FakeProcessor) -> None:
    session_id = _create(client)
    with client.websocket_connect(
        f"/session/{session_id}/ws", headers={"traceparent": HEADER}
    ) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"
    (headers,) = processor.ws_headers
    assert {k.lower(): v for k, v in headers.items()}["traceparent"] == HEADER


def test_the_managers_own_calls_carry_the_trace(
    client: TestClient, processor: FakeProcessor
) -> None:
    session_id = _create(client)
    client.post(f"/session/{session_id}/hibernate", headers={"traceparent": HEADER})
    (sent,) = _sent(processor, "/state")
    assert sent == HEADER


# -- tracing on: spans and their links -----------------------------------------------------


def _chain(span: ReadableSpan, recorded: Sequence[ReadableSpan]) -> list[str]:
    """The names from `span` up to its root."""
    names = [span.name]
    parent = parent_of(span, recorded)
    while parent is not None:
        names.append(parent.name)
        parent = parent_of(parent, recorded)
    return names


def test_a_create_is_a_server_span_over_create_and_spawn(
    client: TestClient, spans: InMemorySpanExporter
) -> None:
    session_id = _create(client, traceparent=HEADER)
    recorded = spans.get_finished_spans()
    spawn = by_name(recorded, "container.spawn")
    assert _chain(spawn, recorded) == ["container.spawn", "session.create", "POST /session/create"]
    server = by_name(recorded, "POST /session/create")
    assert server.kind == SpanKind.SERVER and hex_trace_id(server) == TRACE
    assert {hex_trace_id(s) for s in recorded} == {TRACE}
    assert (by_name(recorded, "session.create").attributes or {})["kato.session_id"] == session_id
    attributes = spawn.attributes or {}
    assert attributes["kato.reason"] == "create" and attributes["kato.processor_id"]


def test_a_proxied_request_is_a_client_span_the_processor_is_told_of(
    client: TestClient, processor: FakeProcessor, spans: InMemorySpanExporter
) -> None:
    session_id = _create(client)
    spans.clear()
    client.post(f"/session/{session_id}/observe", json={"strings": ["a"]})
    recorded = spans.get_finished_spans()
    proxy = by_name(recorded, "proxy")
    assert proxy.kind == SpanKind.CLIENT
    assert _chain(proxy, recorded) == ["proxy", "POST /session/{session_id}/{path:path}"]
    (sent,) = _sent(processor, "/observe")
    parent = parse_traceparent(sent)
    assert parent is not None
    assert (parent.trace_id, parent.span_id) == (
        hex_trace_id(proxy),
        f"{proxy.context.span_id:016x}",
    )


def test_hibernate_and_the_wake_a_request_causes(
    client: TestClient, processor: FakeProcessor, spans: InMemorySpanExporter
) -> None:
    session_id = _create(client)
    client.post(f"/session/{session_id}/observe", json={"strings": ["a"]})
    assert client.post(f"/session/{session_id}/hibernate").status_code == 200
    recorded = spans.get_finished_spans()
    hibernate = by_name(recorded, "session.hibernate")
    assert parent_of(hibernate, recorded) is not None  # under the request's server span
    spans.clear()
    assert client.get(f"/session/{session_id}/stm").json() == {"stm": [["a"]]}
    recorded = spans.get_finished_spans()
    spawn = by_name(recorded, "container.spawn")
    assert _chain(spawn, recorded) == [
        "container.spawn",
        "session.wake",
        "proxy",
        "GET /session/{session_id}/{path:path}",
    ]
    assert (spawn.attributes or {})["kato.reason"] == "wake"
    (restore,) = _sent(processor, "/state", "PUT")
    assert parse_traceparent(restore).trace_id == hex_trace_id(spawn)  # type: ignore[union-attr]


def test_export_and_import_are_spans(
    client: TestClient, processor: FakeProcessor, spans: InMemorySpanExporter
) -> None:
    session_id = _create(client)
    spans.clear()
    client.get(f"/session/{session_id}/export")  # the fake has no /export: its 404 passes
    recorded = spans.get_finished_spans()
    export = by_name(recorded, "session.export")
    (sent,) = _sent(processor, "/export")
    assert parse_traceparent(sent).span_id == f"{export.context.span_id:016x}"  # type: ignore[union-attr]
    spans.clear()
    answer = client.post("/session/import", content=b"{}\n")  # the fake refuses every import
    assert answer.status_code == 422
    recorded = spans.get_finished_spans()
    assert _chain(by_name(recorded, "session.create"), recorded) == [
        "session.create",
        "session.import",
        "POST /session/import",
    ]


def test_a_create_from_the_pool_is_a_claim(
    make_client: Callable[..., Any], spans: InMemorySpanExporter
) -> None:
    client: TestClient = make_client(pool_size=1)
    service = service_of(client)
    wait_until("the pool holds one", lambda: len(service.pool.ready) == 1)
    spans.clear()
    _create(client)
    recorded = spans.get_finished_spans()
    claim = by_name(recorded, "pool.claim")
    assert _chain(claim, recorded) == ["pool.claim", "session.create", "POST /session/create"]
    assert "container.spawn" not in [s.name for s in recorded]


def test_the_websocket_open_is_a_server_span_the_processor_is_told_of(
    client: TestClient, processor: FakeProcessor, spans: InMemorySpanExporter
) -> None:
    session_id = _create(client)
    spans.clear()
    with client.websocket_connect(f"/session/{session_id}/ws") as ws:
        ws.send_text("hi")
        ws.receive_text()
    server = by_name(spans.get_finished_spans(), "WS /session/{session_id}/ws")
    (headers,) = processor.ws_headers
    sent = parse_traceparent({k.lower(): v for k, v in headers.items()}["traceparent"])
    assert sent is not None and sent.span_id == f"{server.context.span_id:016x}"
