"""The trace of the request being served: W3C trace context in, spans (when on), trace context out.

Every request has a trace id, tracing on or off: the one of a valid incoming ``traceparent``
(W3C Trace Context level 1), else a new random one. `TracingMiddleware` sets it in
`kato.contract.trace_id_var` (so error bodies and log lines carry it) and `outgoing_headers`
gives the ``traceparent`` (and ``tracestate``) to send on, so the processor a request reaches
logs and answers under the same trace id.

Tracing is on when the operator selects an exporter with the standard variables
(`tracing_wanted`): ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``; ``none`` = off),
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, unless
``OTEL_SDK_DISABLED=true``. Nothing is exported when none is set, and the OpenTelemetry SDK is
not even imported then: it costs ~55 ms of a processor's start-up (``python -X importtime``),
and a processor that does not export pays nothing for it. The rest of the standard variables
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``,
``OTEL_EXPORTER_OTLP_*``) are read by the SDK as it documents them.

With tracing on, the middleware opens one SERVER span per request or WebSocket handshake
and `span` / `traced` open the spans of the platform's own steps under it. The SDK's tracer
provider is this module's, never installed as the global one: FastAPI (>= 0.165) traces by
itself as soon as a global provider exists, and its spans (per dependency, per serialisation)
would double ours and cost far more than a pure-ASGI layer.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

from kato.contract import trace_id_var
from kato.web.route_table import route_template

if TYPE_CHECKING:  # pragma: no cover
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "TraceParent",
    "TracingMiddleware",
    "annotate",
    "current_trace_id",
    "enabled",
    "flush",
    "outgoing_headers",
    "parse_traceparent",
    "setup",
    "shutdown",
    "span",
    "traced",
    "tracing_wanted",
    "use_exporter",
]

log = logging.getLogger("kato.web.tracing")

P = ParamSpec("P")
T = TypeVar("T")

#: Lower-case hex only (W3C: upper case is invalid); the version's rules are in `parse_traceparent`.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_TRUE = ("true", "1", "yes", "on")


class TraceParent(NamedTuple):
    """One hop of a trace as the ``traceparent`` header carries it (lower-case hex)."""

    trace_id: str
    span_id: str
    flags: str = "00"
    tracestate: str | None = None

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    @classmethod
    def new_root(cls) -> TraceParent:
        """A trace of its own: random ids, not sampled (nothing recorded it)."""
        return cls(_random_hex(128), _random_hex(64))


def parse_traceparent(value: str | bytes | None) -> TraceParent | None:
    """The header's trace context, or None when it is absent or invalid (W3C Trace Context:
    version ``ff`` and all-zero ids are invalid; version ``00`` is exactly 55 characters; a
    later version may carry more after a ``-``)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip(" \t")
    found = _TRACEPARENT.match(text)
    if found is None:
        return None
    version, trace_id, span_id, flags = found.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    if len(text) != 55 and (version == "00" or text[55:56] != "-"):
        return None
    return TraceParent(trace_id, span_id, flags)


def _random_hex(bits: int) -> str:
    # Not secret, only unique (W3C asks for random, never all zeros).
    return f"{random.getrandbits(bits) or 1:0{bits // 4}x}"


# -- the tracer ----------------------------------------------------------------------------


class _Tracing:
    """Module state: the SDK's provider and tracer while tracing is on, else None; the API's
    modules, imported once tracing is first turned on (an import statement per request cost
    ~1 µs each)."""

    provider: TracerProvider | None = None
    tracer: Tracer | None = None
    trace: Any = None  # opentelemetry.trace
    context: Any = None  # opentelemetry.context


_state = _Tracing()

#: The hop this service serves when tracing is off (with it on, OpenTelemetry's context).
_hop: ContextVar[TraceParent | None] = ContextVar("kato_trace_hop", default=None)


def tracing_wanted(environ: Mapping[str, str]) -> bool:
    """True when the ``OTEL_*`` variables select an exporter (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return any(name.strip() not in ("", "none") for name in exporters.split(","))
    return any(
        environ.get(name, "").strip()
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def enabled() -> bool:
    """True while spans are recorded (`setup` found an exporter, or `use_exporter`)."""
    return _state.tracer is not None


def setup(
    service_name: str,
    attributes: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Turn tracing on when the environment asks for it (`tracing_wanted`); once per process,
    at start-up. ``service_name`` is the default ``service.name`` (``OTEL_SERVICE_NAME``
    wins); ``attributes`` are added to the resource. Returns whether tracing is on. A process
    whose tracing is already on (an earlier `setup`, a test's `use_exporter`) keeps it."""
    environ = os.environ if environ is None else environ
    if _state.tracer is not None or not tracing_wanted(environ):
        return enabled()
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporters = _exporters(environ)
    if not exporters:
        return False
    provider = _provider(service_name, attributes, environ)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _install(provider)
    log.info(
        "tracing on",
        extra={"detail": {"exporters": [type(e).__name__ for e in exporters]}},
    )
    return True


def use_exporter(
    exporter: SpanExporter, service_name: str = "kato-test", *, batch: bool = False
) -> None:
    """Tracing on in this process, every span going to ``exporter`` (the tests' in-memory one)
    as it ends (``batch``: through a `BatchSpanProcessor`, as `setup` does)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    shutdown()
    provider = _provider(service_name, None, {})
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _install(provider)


def flush() -> None:
    """Export what is still buffered, tracing staying on (a service's lifespan end: the
    provider's own exit hook shuts it down with the process)."""
    if _state.provider is not None:
        _state.provider.force_flush()


def shutdown() -> None:
    """Export what is still buffered and turn tracing off (a service's lifespan end)."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()


def _install(provider: TracerProvider) -> None:
    from opentelemetry import context, trace

    _state.trace, _state.context = trace, context
    _state.provider = provider
    _state.tracer = provider.get_tracer("kato")


def _provider(
    service_name: str, attributes: Mapping[str, str] | None, environ: Mapping[str, str]
) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    own: dict[str, str] = dict(attributes or {})
    if not environ.get("OTEL_SERVICE_NAME"):
        own["service.name"] = service_name
    return TracerProvider(resource=Resource.create(own))


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` by default): ``otlp`` is
    OTLP/HTTP protobuf (the only OTLP transport installed; ``grpc`` is refused with a warning),
    ``console`` writes spans to stdout."""
    names = [
        n.strip()
        for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
        if n.strip() not in ("", "none")
    ]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "otlp":
            protocol = environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            )
            if protocol and protocol.strip() != "http/protobuf":
                log.warning("OTLP protocol %r not installed: using http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        else:
            log.warning("OTEL_TRACES_EXPORTER %r is not supported: ignored", name)
    return exporters


# -- spans of the platform's own steps -------------------------------------------------------


@contextmanager
def span(name: str, *, kind: str = "internal", **attributes: Any) -> Iterator[None]:
    """A child span of the current one around the block (nothing when tracing is off); an
    exception leaving the block is recorded on it and sets its status to error. ``kind``:
    ``internal`` or ``client`` (a call to another service: send `outgoing_headers` in it)."""
    tracer = _state.tracer
    if tracer is None:
        yield
        return
    span_kind = _state.trace.SpanKind.CLIENT if kind == "client" else _state.trace.SpanKind.INTERNAL
    values = {k: v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(name, kind=span_kind, attributes=values):
        yield


def traced(
    name: str, *, kind: str = "internal"
) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """`span` around every call of an async function (a lifecycle step: create, wake, …);
    off, one attribute read per call."""

    def decorate(
        function: Callable[P, Coroutine[Any, Any, T]],
    ) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            if _state.tracer is None:
                return await function(*args, **kwargs)
            with span(name, kind=kind):
                return await function(*args, **kwargs)

        return wrapper

    return decorate


def annotate(**attributes: Any) -> None:
    """Attributes on the current span (None values are left out); nothing when off."""
    if _state.tracer is None:
        return
    current = _state.trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key, value)


# -- trace context out ---------------------------------------------------------------------


def outgoing_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) for a call made now: the current span's with
    tracing on, else the hop being served; empty outside any request or span."""
    if _state.tracer is not None:
        context = _state.trace.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        headers = {
            "traceparent": (
                f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
            )
        }
        if context.trace_state:
            headers["tracestate"] = context.trace_state.to_header()
        return headers
    hop = _hop.get()
    if hop is None:
        return {}
    headers = {"traceparent": hop.header()}
    if hop.tracestate:
        headers["tracestate"] = hop.tracestate
    return headers


def current_trace_id() -> str | None:
    """The trace id of the request being served (`kato.contract.trace_id_var`)."""
    return trace_id_var.get()


# -- trace context in ----------------------------------------------------------------------


def _incoming(headers: list[tuple[bytes, bytes]]) -> TraceParent | None:
    parent: TraceParent | None = None
    state: list[str] = []
    for name, value in headers:
        if name == b"traceparent":
            if parent is not None:  # two: which one the client meant is unknown
                return None
            parent = parse_traceparent(value)
            if parent is None:
                return None
        elif name == b"tracestate":
            state.append(value.decode("latin-1"))
    if parent is not None and state:
        parent = parent._replace(tracestate=",".join(state)[:512])
    return parent


class TracingMiddleware:
    """Pure ASGI, outermost: the request's trace context (see the module docstring) and,
    with tracing on, its SERVER span, named ``<METHOD> <route template>`` once routed
    (``WS <route>`` for a WebSocket), its status from the answer (5xx = error).

    ``service`` names the span's ``kato.service`` attribute. Off, the cost is one scan of
    the headers and a context variable (~2 µs; bench/tracing.py)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        parent = _incoming(scope["headers"])
        tracer = _state.tracer
        if tracer is None:
            hop = parent if parent is not None else TraceParent.new_root()
            _hop.set(hop)
            trace_id_var.set(hop.trace_id)
            await self.app(scope, receive, send)
            return
        await self._traced(tracer, parent, scope, receive, send)

    async def _traced(
        self,
        tracer: Tracer,
        parent: TraceParent | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        trace, otel_context = _state.trace, _state.context
        websocket = scope["type"] == "websocket"
        method = "WS" if websocket else scope["method"]
        server = tracer.start_span(
            method,
            context=_parent_context(parent),
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": "GET" if websocket else method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "ws" if websocket else "http"),
                "kato.service": self.service,
            },
        )
        _hop.set(None)
        trace_id_var.set(f"{server.get_span_context().trace_id:032x}")
        token = otel_context.attach(trace.set_span_in_context(server))
        status: list[int] = []

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "websocket.accept":
                status.append(101)
            elif message["type"] == "websocket.close" and not status:
                server.set_attribute("kato.websocket.close_code", message.get("code", 1000))
                status.append(403)
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except BaseException as exc:
            server.record_exception(exc)
            server.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            _finish(server, scope, method, status)
            otel_context.detach(token)
            server.end()


def _parent_context(parent: TraceParent | None) -> Any:
    if parent is None:
        return None
    trace = _state.trace
    state = trace.TraceState.from_header([parent.tracestate]) if parent.tracestate else None
    remote = trace.SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(parent.flags, 16)),
        trace_state=state,
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(remote))


def _finish(server: Span, scope: Scope, method: str, status: list[int]) -> None:
    route = route_template(scope)
    if route is not None:
        server.update_name(f"{method} {route}")
        server.set_attribute("http.route", route)
    if status:
        server.set_attribute("http.response.status_code", status[0])
        if status[0] >= 500:
            server.set_status(_state.trace.Status(_state.trace.StatusCode.ERROR))
