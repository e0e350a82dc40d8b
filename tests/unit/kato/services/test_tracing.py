"""The processor's part of a trace: it answers and logs under the caller's trace id (the
regular routes and the direct lane alike), keeps `X-Trace-ID` a request id, and with tracing on
records one server span under the caller's."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kato.services.logs import LOGGER_NAME, json_formatter
from tests.spans import hex_trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{PARENT}-01"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(json_formatter("unit"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[list[dict[str, Any]]]:
    handler, logger = _Lines(), logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/no-such-path", None),  # the regular routes' 404
        ("POST", "/observe", {"strings": "not a list"}),  # the direct lane's 422
        ("POST", "/genes/update", {"genes": {"persistence": -1}}),
    ],
)
def test_errors_and_log_lines_carry_the_callers_trace_id(
    client: TestClient, lines: list[dict[str, Any]], method: str, path: str, body: Any
) -> None:
    answer = client.request(method, path, json=body, headers={"traceparent": HEADER})
    assert answer.status_code >= 400
    assert answer.json()["error"]["details"]["trace_id"] == TRACE
    assert answer.headers["x-trace-id"].startswith("kato-")  # still the request id
    (access,) = [line for line in lines if line["msg"] == "request"]
    assert access["trace_id"] == TRACE and access["request_id"] == answer.headers["x-trace-id"]


def test_without_a_traceparent_each_request_has_its_own_trace(client: TestClient) -> None:
    ids = {client.get("/nowhere").json()["error"]["details"]["trace_id"] for _ in range(3)}
    assert len(ids) == 3


def test_on_one_server_span_under_the_callers(
    client: TestClient, spans: InMemorySpanExporter
) -> None:
    client.post("/observe", json={"strings": ["a"]}, headers={"traceparent": HEADER})
    client.get("/stm", headers={"traceparent": HEADER})
    observe, stm = spans.get_finished_spans()
    for server in (observe, stm):
        assert server.kind == SpanKind.SERVER and hex_trace_id(server) == TRACE
        assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT
        assert (server.attributes or {})["kato.service"] == "processor"
    assert (observe.attributes or {})["http.response.status_code"] == 200
    assert stm.name == "GET /stm"
