"""The client sends the caller's OpenTelemetry context (`kato.client._trace`): the processor's
server span is a child of the caller's span, over HTTP and the WebSocket, sync and async."""

from __future__ import annotations

import subprocess
import sys

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kato.client._calls import Target
from kato.web import tracing
from kato.web.launcher import ThreadServer
from tests.spans import by_name
from tests.unit.kato.client.support import TOKEN, Flavour


def test_a_call_in_a_span_is_a_child_of_it_on_the_processor(
    service: ThreadServer, flavour: Flavour, spans: InMemorySpanExporter
) -> None:
    with flavour.ProcessorClient(service.url, TOKEN) as kato:
        with tracing.span("caller"):
            kato.observe(strings=["a"])
            with kato.stream() as ws:
                ws.observe(strings=["b"])
        kato.stm()  # outside the span: a trace of its own
    recorded = spans.get_finished_spans()
    caller = by_name(recorded, "caller")
    for name in ("POST /observe", "WS /ws"):
        server = by_name(recorded, name)
        assert server.parent is not None and server.parent.span_id == caller.context.span_id
        assert server.context.trace_id == caller.context.trace_id
    assert by_name(recorded, "GET /stm").parent is None


def test_without_a_current_span_nothing_is_added() -> None:
    assert Target(httpx.URL("http://x")).headers() == {"Accept": "application/json"}


_WITHOUT_OTEL = """
import sys
from kato.client._calls import Target
import httpx
assert "opentelemetry.trace" not in sys.modules
print(sorted(Target(httpx.URL("http://x"), "k").headers()))
"""


def test_an_application_that_never_imported_opentelemetry_pays_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_OTEL], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['Accept', 'Authorization']"
