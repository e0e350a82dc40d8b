"""One pure-ASGI layer around the app: trace id, auth, access log, request metrics, last-resort 500.

A single small layer (rather than several ``BaseHTTPMiddleware``\\ s) keeps the per-request cost to
a few microseconds. Being outermost, it also guarantees ``X-Trace-ID`` and the JSON error shape on
answers the inner layers never produced (401, unhandled exceptions), for the regular routes and the
direct lane (:mod:`kato.services.lane`) alike.

``HEAD`` is answered wherever ``GET`` is: the request runs as that ``GET`` and the body is
dropped on the way out (headers, ``content-length`` included, are the GET's).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kato.services.auth import TokenCheck
from kato.services.errors import FastJSONResponse, ServiceError, error_response, internal_error_body
from kato.services.metrics import ServiceMetrics
from kato.web.request_id import CLIENT_ID

WS_POLICY_VIOLATION = 1008


def _trace_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        if name == b"x-trace-id" and CLIENT_ID.fullmatch(value):
            return value
    return f"kato-{uuid.uuid4().hex}".encode()


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def access_log_level(status: int) -> int:
    """Successes at DEBUG: an INFO line per request costs ~50 µs, 2-3 % of the observe budget
    (measured with bench/processor.py); client errors at INFO, server errors at WARNING."""
    if status >= 500:
        return logging.WARNING
    return logging.INFO if status >= 400 else logging.DEBUG


def unauthorized() -> ServiceError:
    return ServiceError(
        "KATO_UNAUTHORIZED", 401, "Missing or invalid bearer token", {"scheme": "Bearer"}
    )


class ServiceMiddleware:
    """Wraps every HTTP request and WebSocket handshake of the service."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenCheck,
        metrics: ServiceMetrics,
        logger: logging.Logger,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.metrics = metrics
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if self.tokens.websocket_ok(scope["headers"], scope.get("query_string", b"")):
                await self.app(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method = scope["method"]
        if method == "HEAD":  # served as the GET of the same path, without the body (RFC 9110)
            scope = {**scope, "method": "GET"}
        trace_id = _trace_id(scope["headers"])
        scope.setdefault("state", {})["trace_id"] = trace_id.decode("latin-1")
        response: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                message["headers"] = [*message.get("headers", ()), (b"x-trace-id", trace_id)]
            elif method == "HEAD" and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            if self._denied(scope):
                denied = error_response(unauthorized(), {"WWW-Authenticate": "Bearer"})
                await denied(scope, receive, send_with_trace)
                return
            await self.app(scope, receive, send_with_trace)
        except Exception as exc:
            self.logger.exception(
                "unhandled error", extra={"request_id": trace_id.decode("latin-1")}
            )
            if response["started"]:
                raise
            await FastJSONResponse(internal_error_body(exc), status_code=500)(
                scope, receive, send_with_trace
            )
        finally:
            seconds = time.perf_counter() - started
            self._record(scope, method, response["status"], seconds, trace_id)

    def _denied(self, scope: Scope) -> bool:
        return (
            self.tokens.enabled
            and not self.tokens.exempt(scope["path"], scope["method"])
            and not self.tokens.header_ok(scope["headers"])
        )

    def _record(
        self, scope: Scope, method: str, status: int, seconds: float, trace_id: bytes
    ) -> None:
        route = _route_label(scope)
        self.metrics.record_request(route, method, status, seconds)
        level = access_log_level(status)
        if self.logger.isEnabledFor(level):
            self.logger.log(
                level,
                "request",
                extra={
                    "request_id": trace_id.decode("latin-1"),
                    "method": method,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
