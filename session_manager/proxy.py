"""Forward one HTTP request to a session's container and its answer back, bytes untouched.

Method, raw path, raw query string, body, status, headers and error bodies pass through; only
hop-by-hop headers are dropped and the client's Authorization is replaced with the container's
own token. No JSON is parsed on this path.
"""

from __future__ import annotations

import time

import aiohttp
from starlette.requests import Request
from starlette.responses import Response
from yarl import URL

from .errors import BadGatewayError, PayloadTooLargeError
from .logs import request_id_var
from .metrics import ManagerMetrics
from .sessions import SessionService

__all__ = ["forward", "upstream_path"]

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
    }
)
# uvicorn writes its own; passing the container's too would duplicate them.
_NOT_RETURNED = _HOP_BY_HOP | {"date", "server"}
_SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})


def upstream_path(request: Request, session_id: str) -> str:
    """The raw (still percent-encoded) path after `/session/<id>`, e.g. `/pattern/PTRN%7C…`."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    prefix = f"/session/{session_id}".encode()
    return raw[len(prefix) :].decode("latin-1") if raw.startswith(prefix) else "/"


async def read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"request body larger than {limit} bytes", {"max_body_bytes": limit}
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def forward(
    request: Request,
    session_id: str,
    service: SessionService,
    metrics: ManagerMetrics,
    timeout: aiohttp.ClientTimeout,
) -> Response:
    started = time.perf_counter()
    body = await read_body(request, service.settings.max_body_bytes)
    route = await service.acquire(session_id)
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = (
        route.internal_url + upstream_path(request, session_id) + ("?" + query if query else "")
    )
    headers = [(key, value) for key, value in request.headers.items() if key not in _HOP_BY_HOP]
    headers.append(("Authorization", f"Bearer {route.token}"))
    if "x-trace-id" not in request.headers:  # the processor logs under the same id as we do
        headers.append(("X-Trace-ID", request_id_var.get() or ""))
    try:
        async with service.client.request(
            request.method,
            URL(target, encoded=True),
            data=body,
            headers=headers,
            allow_redirects=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            timeout=timeout,
        ) as upstream:
            content = await upstream.read()
            status = upstream.status
            reply_headers = {
                key: value
                for key, value in upstream.headers.items()
                if key.lower() not in _NOT_RETURNED
            }
    except (TimeoutError, aiohttp.ClientError) as exc:
        metrics.proxied.labels("502").inc()
        if isinstance(exc, aiohttp.ClientConnectorError):
            # Nothing listens: the next request re-checks the container (see `_wake`).
            service.forget_route(session_id, route)
        raise BadGatewayError(
            f"session container did not answer: {type(exc).__name__}",
            {"session_id": session_id},
        ) from exc
    finally:
        service.release(session_id, route)
    metrics.proxied.labels(str(status)).inc()
    metrics.proxy_seconds.observe(time.perf_counter() - started)
    return Response(content, status_code=status, headers=reply_headers)
