"""One pure-ASGI middleware for what every request needs: a request id, the API key check,
the body-size precheck and one access log line. Pure ASGI keeps the proxy path cheap."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Mapping

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLargeError, SessionError, UnauthorizedError
from .logs import request_id_var, session_id_var

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("session_manager.access")

_OPEN_PATHS = ("/health",)


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        """``body_limits``: paths with their own body limit instead of ``max_body_bytes``."""
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = (
            headers.get(b"x-request-id") or headers.get(b"x-trace-id") or uuid.uuid4().hex.encode()
        ).decode("latin-1")
        request_id_var.set(request_id)
        session_id_var.set(None)
        problem = self._problem(scope, headers)
        if problem is not None:
            await _reject(scope, send, problem, request_id)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    def _problem(self, scope: Scope, headers: dict[bytes, bytes]) -> SessionError | None:
        if self.api_key is not None and scope["path"] not in _OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            expected = f"Bearer {self.api_key}".encode()
            if not hmac.compare_digest(given, expected):
                return UnauthorizedError("missing or bad API key (Authorization: Bearer <key>)")
        length = headers.get(b"content-length")
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        if length is not None and length.isdigit() and int(length) > limit:
            return PayloadTooLargeError(
                f"request body larger than {limit} bytes", {"max_body_bytes": limit}
            )
        return None


async def _reject(scope: Scope, send: Send, error: SessionError, request_id: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": error.code})
        return
    body = orjson.dumps(error.body())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    log.info("request rejected", extra={"path": scope["path"], "status": error.status})
