"""Forward one HTTP request to a session's container and its answer back, bytes untouched.

Method, raw path, raw query string, body, status, headers and error bodies pass through; only
hop-by-hop headers are dropped and the client's Authorization is replaced with the container's
own token. No JSON is parsed on this path.

Routing reads the raw path: its third segment must be a session id exactly as the manager
writes them (`%`-encoded or `/`-smuggling forms are unknown sessions, 404), and the request
goes on a connection to the route's fixed host and port (`upstream.Upstreams`) with the rest
of the path and the query as its request target, so no request can point it at another host,
port or user. A timeout is a 504: the container
may still apply the request later, and the manager never sends it twice.
"""

from __future__ import annotations

import functools
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope
from yarl import URL

from kato.web import tracing
from kato.web.body import read_body

from .errors import PayloadTooLargeError, SessionNotFoundError
from .logs import request_id_var
from .models import is_session_id
from .processor_client import unanswered_error
from .sessions import Route, SessionService
from .upstream import UpstreamConnectError, UpstreamError, Upstreams

__all__ = [
    "SESSION_PREFIXES",
    "V1_PREFIX",
    "V2_PREFIX",
    "Answer",
    "exchange",
    "forward",
    "raw_path",
    "split_session_path",
    "upstream_url",
]

#: The two prefixes of a session's routes: `/session/{id}/…` (v1) and `/v2/sessions/{id}/…`
#: (the v2 architecture's), one implementation behind both.
V1_PREFIX = "/session"
V2_PREFIX = "/v2/sessions"
SESSION_PREFIXES = (V1_PREFIX, V2_PREFIX)

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "authorization",
        "traceparent",  # replaced by the proxy span's (`kato.web.tracing`)
        "tracestate",
    }
)
# uvicorn writes its own; passing the container's too would duplicate them.
_NOT_RETURNED = _HOP_BY_HOP | {"date", "server"}
# As ASGI and aiohttp's raw headers carry them: bytes (ASGI's names are lower case already).
_HOP_BY_HOP_RAW = frozenset(name.encode() for name in _HOP_BY_HOP)
_NOT_RETURNED_RAW = frozenset(name.encode() for name in _NOT_RETURNED)


def split_session_path(raw_path: str) -> tuple[str, str]:
    """`/session/<id>/<rest>` (or `/v2/sessions/<id>/<rest>`) as (`<id>`, `/<rest>`), `<rest>`
    still percent-encoded.

    Raises `SessionNotFoundError` unless the raw id segment is a session id as is.
    """
    prefix = next((p for p in SESSION_PREFIXES if raw_path.startswith(p + "/")), None)
    after = raw_path[len(prefix) + 1 :] if prefix is not None else ""
    segment, slash, rest = after.partition("/")
    if prefix is None or not slash or not is_session_id(segment):
        raise SessionNotFoundError.unknown(segment)
    return segment, "/" + rest


def upstream_url(base: str, path: str, query: str) -> URL:
    """`base`'s scheme, host and port (nothing else of it) with `path` and `query` as given
    (already percent-encoded by the client): the only way the proxy makes a target."""
    origin = _origin(base)
    if not path.startswith("/"):
        path = "/" + path
    return URL.build(
        scheme=origin.scheme,
        host=origin.raw_host or "",
        port=origin.port,
        path=path,
        query_string=query,
        encoded=True,
    )


@functools.lru_cache(maxsize=4096)
def _origin(base: str) -> URL:
    """A route's base URL parsed once (a route keeps its URL for its life; ~4 µs a parse)."""
    return URL(base)


def raw_path(scope: Scope) -> str:
    """The request's path as the client sent it (percent-encoding kept, no query)."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    return raw.decode("latin-1").partition("?")[0]


#: A container's answer: status, headers to return (raw, hop-by-hop ones dropped), body.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def exchange(
    service: SessionService,
    session_id: str,
    route: Route,
    method: str,
    path: str,
    scope: Scope,
    body: bytes,
) -> Answer:
    """One request, the client's `scope` headers (minus hop-by-hop ones) and `body`, sent to
    `path` (raw) and the scope's query of `route`'s container with the container's token, on
    the app's pooled connections (`upstream.Upstreams`, `app.state.upstreams`); the caller
    holds the route (`SessionService.held`). Counts the answer's status; a container that does
    not answer is a `SessionError` (502, or 504 after `KATO_PROXY_TIMEOUT`)."""
    metrics, timeout = service.metrics, service.proxy_timeout
    upstreams: Upstreams = scope["app"].state.upstreams
    origin = _origin(route.internal_url)
    query: bytes = scope.get("query_string", b"")
    target = path if path.startswith("/") else "/" + path
    if query:
        target += "?" + query.decode("latin-1")
    headers = []
    trace_id_given = False
    for name, value in scope["headers"]:
        if name not in _HOP_BY_HOP_RAW:
            trace_id_given = trace_id_given or name == b"x-trace-id"
            headers.append((name, value))
    headers.append((b"Authorization", b"Bearer " + route.token.encode()))
    headers.extend((k.encode(), v.encode()) for k, v in tracing.outgoing_headers().items())
    if not trace_id_given:  # the processor logs under the same id as we do
        headers.append((b"X-Trace-ID", (request_id_var.get() or "").encode()))
    try:
        status, answered, content = await upstreams.request(
            origin.raw_host or "", origin.port or 80, method, target, headers, body, timeout.total
        )
    except (TimeoutError, UpstreamError) as exc:
        error = unanswered_error(f"{method} {path}", exc, timeout.total, {"session_id": session_id})
        metrics.proxied_with(error.status).inc()
        if isinstance(exc, UpstreamConnectError):
            # Nothing listens: the next request re-checks the container (see `_wake`).
            await service.forget_route(session_id, route)
        raise error from exc
    metrics.proxied_with(status).inc()
    return status, [(n, v) for n, v in answered if n not in _NOT_RETURNED_RAW], content


@tracing.traced("proxy", kind="client")
async def forward(
    request: Request,
    session_id: str,
    path: str,
    service: SessionService,
) -> Response:
    """`request` sent on to `path` (raw, percent-encoding kept) of the session's container,
    within `KATO_PROXY_TIMEOUT` (the session woken first if it hibernates)."""
    started = time.perf_counter()
    body = await read_body(request, service.settings.max_body_bytes, PayloadTooLargeError.body_over)
    route = await service.acquire(session_id)  # `held`, without its generator's cost
    try:
        status, headers, content = await exchange(
            service, session_id, route, request.method, path, request.scope, body
        )
    finally:
        service.release(session_id, route)
    service.metrics.proxy_seconds.observe(time.perf_counter() - started)
    response = Response(content, status_code=status)
    response.raw_headers.extend(headers)
    return response
