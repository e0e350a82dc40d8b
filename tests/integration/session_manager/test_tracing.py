"""One trace across three processes, exported over real OTLP/HTTP: this test's client (its own
OpenTelemetry SDK) → a session manager (uvicorn on loopback) → a processor (the service's
app under uvicorn on loopback, as ``python -m kato.services`` serves it), each exporting to
a small OTLP/HTTP receiver here that decodes ``POST /v1/traces`` with ``opentelemetry-proto``.

The processor is a process, not a container, and the manager's engine a fake whose one
"container" is that process (`session_manager.testing.ProcessManagerProcess`): the receiver
listens on this host's loopback, which a container on the engine's bridge network cannot reach
(and the bridge's own address is no target this workplace allows traffic to). A container
gets the same OTEL_* settings from the manager (`ContainerSettings.otel_env`, unit-tested).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from kato.client import KatoClient
from kato.services.testing import ServiceProcess
from kato.web.wait import wait_until
from session_manager.testing import OtlpReceiver, ProcessManagerProcess, ReceivedSpan


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver().start()
    yield server
    server.stop()


def _otel(receiver: OtlpReceiver) -> dict[str, str]:
    """What an operator sets: the collector's address; a short batch delay for the test."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}


def _one(spans: list[ReceivedSpan], service: str, name: str) -> ReceivedSpan:
    found = [s for s in spans if (s.service, s.name) == (service, name)]
    assert len(found) == 1, (service, name, spans)
    return found[0]


def test_one_trace_across_client_manager_and_processor(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    processor = ServiceProcess(
        {
            "PROCESSOR_ID": "traced",
            "KATO_DATA_DIR": str(tmp_path / "data"),
            "LOG_LEVEL": "DEBUG",  # its access lines of successes too
            **_otel(receiver),
        },
        tmp_path / "processor.log",
    )
    manager = ProcessManagerProcess(tmp_path / "state", processor.port, **_otel(receiver))
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
