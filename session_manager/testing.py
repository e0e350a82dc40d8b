"""Run the real session manager (`python -m session_manager`) in a subprocess on loopback,
so integration tests and benchmarks can `kill -9` it and start it again on the same state
directory. Every container it makes carries `labels` (KATO_EXTRA_LABELS) for clean-up.

`ProcessManagerProcess` runs the same app on a fake engine whose every container is one
processor process on loopback (no engine needed); `OtlpReceiver` takes OTLP/HTTP traces."""

from __future__ import annotations

import gzip
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import httpx

from kato.web.launcher import ServerProcess, free_port

__all__ = [
    "ManagerProcess",
    "OtlpReceiver",
    "ProcessManagerProcess",
    "ReceivedSpan",
    "WebhookReceiver",
    "serve_on_one_processor",
]


class ManagerProcess(ServerProcess):
    """`python -m session_manager` on `127.0.0.1:<free port>` with its state in `state_dir`
    (the launcher itself is `kato.web.launcher.ServerProcess`)."""

    name = "manager"
    stop_seconds = 20.0

    def __init__(self, state_dir: Path, labels: dict[str, str], **env: str) -> None:
        port = free_port()
        settings = {
            "KATO_HOST": "127.0.0.1",
            "KATO_PORT": str(port),
            "KATO_STATE_DIR": str(state_dir),
            "KATO_EXTRA_LABELS": json.dumps(labels),
            "KATO_CONTAINER_PREFIX": "kato-smit",
            "KATO_READY_TIMEOUT": "60",
            # No warm pool unless a test asks: pooled containers are not sessions, and tests
            # that count what a manager made would see them.
            "KATO_POOL_SIZE": "0",
            **env,
        }
        command = [sys.executable, "-m", "session_manager"]
        super().__init__(command, settings, state_dir / "manager.log", port)
        self.state_dir = state_dir

    def start(self, timeout: float = 30.0) -> Self:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return super().start(timeout)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)


class ProcessManagerProcess(ManagerProcess):
    """The manager's app under uvicorn in a child process, its engine a `FakeBackend` whose
    every container is the processor already serving on `127.0.0.1:<processor_port>` (say
    `python -m kato.services`): a manager and a real processor without an engine. For what a
    container cannot do here (reach a receiver on this host's loopback, see the tracing tests)
    and for benchmarks of the manager's own cost."""

    def __init__(self, state_dir: Path, processor_port: int, **env: str) -> None:
        super().__init__(state_dir, {}, KATO_TEST_PROCESSOR_PORT=str(processor_port), **env)
        self.command = [sys.executable, "-c", "import session_manager.testing as t; t.serve()"]


def serve() -> None:
    """`ProcessManagerProcess`'s child: `serve_on_one_processor` from its environment."""
    serve_on_one_processor(int(os.environ["KATO_TEST_PROCESSOR_PORT"]))


def serve_on_one_processor(processor_port: int) -> None:
    """Serve the manager (settings from the environment) on a fake engine whose containers
    all answer at `127.0.0.1:processor_port`; readiness is the fake's, every other call goes
    over the network to that processor."""
    from container_manager import FakeBackend, KatoContainerManager

    from .logs import configure_logging
    from .server import serve as serve_manager
    from .settings import ManagerSettings

    settings = ManagerSettings()
    backend = FakeBackend(port=processor_port)
    containers = KatoContainerManager(
        settings.container_settings(), backend, http_transport=backend.transport()
    )
    configure_logging(settings.log_level)
    serve_manager(settings, containers)


class _PostReceiver:
    """A real HTTP server on loopback, in a thread, that answers every POST with the status
    `_take` returns for it (and an empty body)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server: ThreadingHTTPServer | None = None

    def _take(self, path: str, headers: Message, body: bytes) -> int:
        raise NotImplementedError

    def start(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(receiver._take(self.path, self.headers, body))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    received: float  # time.time() when it arrived


class WebhookReceiver(_PostReceiver):
    """A real HTTP server on loopback that records every POST and answers `status` (set it
    to 503 to play a failing receiver). `stop()` then `start()` again on the same port plays
    a receiver that is down for a while."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = 200
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()

    def _take(self, path: str, headers: Message, body: bytes) -> int:
        status = self.status
        if status < 300:
            with self._changed:
                self.deliveries.append(Delivery(dict(headers.items()), body, time.time()))
                self._changed.notify_all()
        return status

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Delivery]:
        """The first `count` accepted deliveries (waits for them; AssertionError on timeout)."""
        with self._changed:
            reached = self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert reached, f"{len(self.deliveries)} of {count} webhook deliveries arrived"
            return list(self.deliveries[:count])


@dataclass(frozen=True)
class ReceivedSpan:
    service: str  # the resource's service.name
    name: str
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_id: str  # "" for a root


class OtlpReceiver(_PostReceiver):
    """A real OTLP/HTTP receiver on loopback: `POST /v1/traces` (protobuf, gzip or not)
    answered 200. With ``decode`` every span is kept in `spans` (needs ``opentelemetry-proto``,
    a test dependency); without, requests are only counted (a benchmark's cheap sink)."""

    def __init__(self, *, decode: bool = True) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.decode = decode
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()

    def _take(self, path: str, headers: Message, body: bytes) -> int:
        if path != "/v1/traces":
            return 404
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        spans = _decoded(body) if self.decode else []
        with self._lock:
            self.requests += 1
            self.spans.extend(spans)
        return 200  # an empty body is an empty ExportTraceServiceResponse

    def of(self, trace_id: str) -> list[ReceivedSpan]:
        """The spans received so far of one trace."""
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


def _decoded(body: bytes) -> list[ReceivedSpan]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    found: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        names = [
            a.value.string_value
            for a in resource_spans.resource.attributes
            if a.key == "service.name"
        ]
        service = names[0] if names else ""
        for scope_spans in resource_spans.scope_spans:
            found.extend(
                ReceivedSpan(
                    service,
                    span.name,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                )
                for span in scope_spans.spans
            )
    return found
