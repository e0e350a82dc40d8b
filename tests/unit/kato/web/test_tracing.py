"""`kato.web.tracing`: the W3C header, when tracing is on, the middleware (off and on), spans
and the headers sent on."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kato.contract import trace_id_var
from kato.web import tracing
from kato.web.tracing import TraceParent, parse_traceparent
from tests.spans import by_name, hex_trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{SPAN}-01"


# -- the header ----------------------------------------------------------------------------


def test_a_valid_traceparent_is_read() -> None:
    assert parse_traceparent(HEADER) == TraceParent(TRACE, SPAN, "01")
    assert parse_traceparent(HEADER.encode()) == TraceParent(TRACE, SPAN, "01")
    assert parse_traceparent(f" {HEADER}\t") == TraceParent(TRACE, SPAN, "01")  # OWS
    # A later version may carry more fields; its first four are read as version 00's.
    assert parse_traceparent(f"01-{TRACE}-{SPAN}-00-more") == TraceParent(TRACE, SPAN, "00")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        HEADER.upper(),  # upper-case hex is invalid
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"{HEADER}-extra",  # version 00 is exactly 55 characters
        f"01-{TRACE}-{SPAN}-01extra",  # a later version's extra part follows a dash
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00_{TRACE}_{SPAN}_01",
    ],
)
def test_an_invalid_traceparent_is_none(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_new_roots_are_random_and_unsampled() -> None:
    first, second = TraceParent.new_root(), TraceParent.new_root()
    assert first.trace_id != second.trace_id and first.flags == "00"
    assert parse_traceparent(first.header()) == first


# -- on or off -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),  # names a service, selects no exporter
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_wanted_only_when_an_exporter_is_selected(
    environ: dict[str, str], wanted: bool
) -> None:
    assert tracing.tracing_wanted(environ) is wanted


def test_setup_without_otel_variables_leaves_tracing_off() -> None:
    assert tracing.setup("unit", environ={}) is False
    assert not tracing.enabled() and tracing.outgoing_headers() == {}


def test_setup_with_an_endpoint_turns_tracing_on_with_the_otlp_exporter() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SERVICE_NAME": "svc"}
    try:
        assert tracing.setup("unit", environ=environ) is True
        assert tracing.enabled()
    finally:
        tracing.shutdown()
    assert not tracing.enabled()


_PROCESSOR_START = """
import json, sys
import kato.services.kato_fastapi
print(json.dumps(sorted({m.split(".")[1] for m in sys.modules if m.startswith("opentelemetry.")})))
"""


def test_a_processor_without_otel_variables_never_imports_the_sdk(tmp_path: object) -> None:
    """The start-up cost of tracing is paid only by processors that export (see bench)."""
    environ = {"PROCESSOR_ID": "lazy", "KATO_DATA_DIR": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", _PROCESSOR_START],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "sdk" not in loaded and "exporter" not in loaded, loaded


# -- the middleware ----------------------------------------------------------------------------


def _echo(request: Request) -> Response:
    """What a handler sees: the trace id and the headers it would send on."""
    return JSONResponse({"trace_id": trace_id_var.get(), "out": tracing.outgoing_headers()})


def _boom(request: Request) -> Response:
    raise RuntimeError("boom")


@pytest.fixture
def app_client() -> TestClient:
    app = Starlette(routes=[Route("/echo/{name}", _echo), Route("/boom", _boom)])
    return TestClient(tracing.TracingMiddleware(app, service="unit"), raise_server_exceptions=False)


def test_off_an_incoming_trace_is_kept_and_sent_on_unchanged(app_client: TestClient) -> None:
    seen = app_client.get("/echo/a", headers={"traceparent": HEADER, "tracestate": "k=v"}).json()
    assert seen == {"trace_id": TRACE, "out": {"traceparent": HEADER, "tracestate": "k=v"}}


@pytest.mark.parametrize("sent", [None, "00-bad", HEADER.upper()])
def test_off_a_missing_or_invalid_traceparent_is_replaced_by_a_new_trace(
    app_client: TestClient, sent: str | None
) -> None:
    headers = {"traceparent": sent} if sent else {}
    first = app_client.get("/echo/a", headers=headers).json()
    second = app_client.get("/echo/a", headers=headers).json()
    made = parse_traceparent(first["out"]["traceparent"])
    assert made is not None and made.trace_id == first["trace_id"] != TRACE
    assert first["trace_id"] != second["trace_id"]


def test_two_traceparent_headers_are_a_new_trace(app_client: TestClient) -> None:
    other = f"00-{'1' * 32}-{SPAN}-01"
    seen = app_client.get("/echo/a", headers=[("traceparent", HEADER), ("traceparent", other)])
    assert seen.json()["trace_id"] not in (TRACE, "1" * 32)


def test_on_each_request_is_a_server_span_under_the_incoming_parent(
    app_client: TestClient, spans: InMemorySpanExporter
) -> None:
    seen = app_client.get("/echo/a", headers={"traceparent": HEADER}).json()
    server = by_name(spans.get_finished_spans(), "GET /echo/{name}")
    assert server.kind == SpanKind.SERVER and hex_trace_id(server) == TRACE == seen["trace_id"]
    assert server.parent is not None and f"{server.parent.span_id:016x}" == SPAN
    assert server.parent.is_remote
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/echo/{name}"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["url.path"] == "/echo/a"
    # What the handler sends on names the server span as the parent.
    sent = parse_traceparent(seen["out"]["traceparent"])
    assert sent == TraceParent(TRACE, f"{server.context.span_id:016x}", "01")


def test_on_a_request_without_a_parent_is_a_root_span(
    app_client: TestClient, spans: InMemorySpanExporter
) -> None:
    seen = app_client.get("/echo/a", headers={"traceparent": "00-nonsense"}).json()
    (server,) = spans.get_finished_spans()
    assert server.parent is None and hex_trace_id(server) == seen["trace_id"]


def test_on_a_failed_request_is_an_error_span(
    app_client: TestClient, spans: InMemorySpanExporter
) -> None:
    assert app_client.get("/boom").status_code == 500
    (server,) = spans.get_finished_spans()
    assert server.status.status_code == StatusCode.ERROR
    assert [event.name for event in server.events] == ["exception"]


def test_child_spans_and_their_links(spans: InMemorySpanExporter) -> None:
    @tracing.traced("step")
    async def step() -> dict[str, str]:
        tracing.annotate(**{"kato.session_id": "s1", "skipped": None})
        with tracing.span("call", kind="client", target="x"):
            return tracing.outgoing_headers()

    with tracing.span("outer"):
        headers = asyncio.run(step())
    recorded = spans.get_finished_spans()
    outer, step_span, call = (by_name(recorded, n) for n in ("outer", "step", "call"))
    assert step_span.parent is not None and step_span.parent.span_id == outer.context.span_id
    assert call.parent is not None and call.parent.span_id == step_span.context.span_id
    assert call.kind == SpanKind.CLIENT and dict(call.attributes or {}) == {"target": "x"}
    assert dict(step_span.attributes or {}) == {"kato.session_id": "s1"}
    sent = parse_traceparent(headers["traceparent"])
    assert sent is not None
    assert (sent.trace_id, sent.span_id) == (hex_trace_id(outer), f"{call.context.span_id:016x}")
    assert int(sent.flags, 16) & 1  # sampled (the SDK also sets W3C level 2's "random" bit)


def test_off_spans_are_nothing_and_outside_a_request_nothing_is_sent() -> None:
    with tracing.span("ignored"):
        tracing.annotate(anything=1)
        assert tracing.outgoing_headers() == {}
