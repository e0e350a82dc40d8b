"""One trace across three processes, exported over real OTLP/HTTP: this test's client (its own
OpenTelemetry SDK) → a session manager (uvicorn on loopback) → a processor
(``python -m kato.services`` on loopback), each exporting to a small OTLP/HTTP receiver here
that decodes ``POST /v1/traces`` with ``opentelemetry-proto``.

The processor is a process, not a container: see `tracing_manager` (the receiver is on
loopback, out of a bridged container's reach). No engine is needed.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from kato.client import KatoClient
from kato.web.launcher import ServerProcess, free_port
from kato.web.wait import wait_until
from session_manager.testing import ManagerProcess

_REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Received:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root


class OtlpReceiver:
    """``POST /v1/traces`` (OTLP/HTTP, protobuf) on loopback; every span it decodes is kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.spans: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                ok = self.path == "/v1/traces"
                if ok:
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver._keep(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _keep(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                with self._lock:
                    self.spans.extend(
                        Received(
                            service,
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                        )
                        for span in scope_spans.spans
                    )

    def of(self, trace_id: str) -> list[Received]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver().start()
    yield server
    server.stop()


def _otel(receiver: OtlpReceiver) -> dict[str, str]:
    """What an operator sets: the collector's address; a short batch delay for the test."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}


def _one(spans: list[Received], service: str, name: str) -> Received:
    found = [s for s in spans if (s.service, s.name) == (service, name)]
    assert len(found) == 1, (service, name, spans)
    return found[0]


def test_one_trace_across_client_manager_and_processor(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    processor = ServerProcess(
        [sys.executable, "-m", "kato.services"],
        {
            "PROCESSOR_ID": "traced",
            "KATO_HOST": "127.0.0.1",
            "KATO_DATA_DIR": str(tmp_path / "data"),
            "LOG_LEVEL": "DEBUG",  # its access lines of successes too
            **_otel(receiver),
        },
        tmp_path / "processor.log",
    )
    processor.env["PORT"] = str(processor.port)
    manager = ManagerProcess(
        tmp_path / "state",
        {"kato.test": "tracing"},
        KATO_TEST_PROCESSOR_PORT=str(processor.port),
        PYTHONPATH=str(_REPO),
        **_otel(receiver),
    )
    manager.command = [sys.executable, "-m", "tests.integration.session_manager.tracing_manager"]
    provider = TracerProvider(resource=Resource.create({"service.name": "test-client"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"))
    )
    tracer = provider.get_tracer("test")
    with processor, manager, KatoClient(manager.url) as kato:
        with tracer.start_as_current_span("client work") as work:
            session = kato.create_session()
            session.observe(strings=["a"])
            with session.stream() as ws:
                ws.observe(strings=["b"])
        trace_id = f"{work.get_span_context().trace_id:032x}"
        provider.shutdown()

        def arrived() -> bool:
            names = {(s.service, s.name) for s in receiver.of(trace_id)}
            return {
                ("kato-processor", "POST /observe"),
                ("kato-processor", "WS /ws"),
                ("kato-session-manager", "POST /session/create"),
                ("kato-session-manager", "WS /session/{session_id}/ws"),
            } <= names

        wait_until("the three processes' spans reach the receiver", arrived, timeout=60)
    spans = receiver.of(trace_id)
    client = _one(spans, "test-client", "client work")
    assert client.parent_id == ""
    create = _one(spans, "kato-session-manager", "POST /session/create")
    assert create.parent_id == client.span_id
    assert _one(spans, "kato-session-manager", "session.create").parent_id == create.span_id
    # HTTP: client → manager server span → its proxy span → the processor's server span.
    proxied = _one(spans, "kato-session-manager", "POST /session/{session_id}/{path:path}")
    assert proxied.parent_id == client.span_id
    proxy = _one(spans, "kato-session-manager", "proxy")
    assert proxy.parent_id == proxied.span_id
    assert _one(spans, "kato-processor", "POST /observe").parent_id == proxy.span_id
    # WebSocket open: the same chain through the handshake.
    relayed = _one(spans, "kato-session-manager", "WS /session/{session_id}/ws")
    assert relayed.parent_id == client.span_id
    assert _one(spans, "kato-processor", "WS /ws").parent_id == relayed.span_id
    # Both services logged the requests under the trace id.
    for log in (processor.log_path, manager.log_path):
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        observed = [line for line in lines if "/observe" in str(line.get("path"))]
        assert observed and all(line.get("trace_id") == trace_id for line in observed), observed
