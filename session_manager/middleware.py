"""Pure-ASGI middleware for what every request needs: a request id, the API key check,
the body-size precheck and one access log line; and HEAD answered wherever GET is.
Pure ASGI keeps the proxy path cheap.

- `X-Request-ID` (or `X-Trace-ID`) is kept when it is 1-128 printable ASCII characters, else
  replaced by a generated id (a 16 KB one used to overflow the answer's headers: 502).
- The API key is `Authorization: Bearer <key>`, the scheme in any case (RFC 7235); browsers,
  which cannot set headers on a WebSocket, offer the subprotocol `kato.bearer.<key>` instead
  (with `kato`, which is the one echoed back). The key is never logged.
- The same two places carry a user token (a JWT, `auth.py`) when `KATO_JWT_SECRET` or
  `KATO_JWT_PUBLIC_KEY` is set; the caller found (operator, user, or anonymous on an open path)
  is left in the scope for the routes (`auth.principal_of`, the rules in `access.py`).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Mapping

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kato.contract import PROBE_PATHS
from kato.web.request_id import CLIENT_ID

from .auth import ANONYMOUS, OPERATOR, PRINCIPAL_KEY, Principal, TokenVerifier
from .dashboard.cookie import (
    COOKIE_SCOPE_KEY,
    CSRF_HEADER,
    cookie_value,
    is_open_path,
    split_cookie,
)
from .errors import PayloadTooLargeError, SessionError, UnauthorizedError
from .logs import request_id_var, session_id_var

__all__ = ["HeadAsGet", "RequestContextMiddleware", "reject", "request_id_of"]

log = logging.getLogger("session_manager.access")

_OPEN_PATHS = PROBE_PATHS
_SAFE_METHODS = ("GET", "HEAD")
_BEARER_PROTOCOL = "kato.bearer."


def request_id_of(headers: dict[bytes, bytes]) -> str:
    """The client's request (or trace) id when it is sane, else a new one: 32 random hex
    digits, as `uuid4().hex` gave, without building a UUID (2.1 → 0.6 µs)."""
    for name in (b"x-request-id", b"x-trace-id"):
        given = headers.get(name)
        if given is not None and CLIENT_ID.fullmatch(given):
            return given.decode("ascii")
    return secrets.token_hex(16)


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
        tokens: TokenVerifier | None = None,
    ) -> None:
        """``body_limits``: paths with their own body limit instead of ``max_body_bytes``;
        ``tokens``: verifies user tokens (none: only the API key is a credential)."""
        self._tokens = tokens if tokens is not None and tokens.enabled else None
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._key = api_key.encode() if api_key is not None else None
        self._cookie = cookie_value(api_key).encode() if api_key is not None else None
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cookie = _take_dashboard_cookie(scope)
        headers = dict(scope["headers"])
        request_id = request_id_of(headers)
        request_id_var.set(request_id)
        session_id_var.set(None)
        problem = self._problem(scope, headers, cookie)
        if problem is not None:
            await reject(scope, send, problem, request_id)
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

    def _problem(
        self, scope: Scope, headers: dict[bytes, bytes], cookie: bytes | None
    ) -> SessionError | None:
        caller = self._caller(scope, headers, cookie)
        if isinstance(caller, SessionError):
            return caller
        scope[PRINCIPAL_KEY] = caller
        length = headers.get(b"content-length")
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        if length is not None and length.isdigit() and int(length) > limit:
            return PayloadTooLargeError.body_over(int(length), limit)
        return None

    def _caller(
        self, scope: Scope, headers: dict[bytes, bytes], cookie: bytes | None
    ) -> Principal | SessionError:
        """Who the request is from, or why it is refused (an open path is served anyway)."""
        if self._key is None:
            return OPERATOR
        offered = _credentials(scope, headers)
        if any(hmac.compare_digest(given, self._key) for given in offered):
            return OPERATOR
        if self._cookie_ok(scope, headers, cookie):
            return OPERATOR
        path = scope["path"]
        open_path = path in _OPEN_PATHS or is_open_path(path)
        if self._tokens is not None and offered:
            try:
                return self._tokens.verify(offered[0])
            except UnauthorizedError as exc:
                return ANONYMOUS if open_path else exc
        if open_path:
            return ANONYMOUS
        return UnauthorizedError("missing or bad API key (Authorization: Bearer <key>)")

    def _cookie_ok(self, scope: Scope, headers: dict[bytes, bytes], cookie: bytes | None) -> bool:
        """The dashboard's login cookie, for plain HTTP only; a change needs the CSRF header
        too (see `dashboard.cookie`)."""
        if cookie is None or self._cookie is None or scope["type"] != "http":
            return False
        if scope["method"] not in _SAFE_METHODS and CSRF_HEADER.encode() not in headers:
            return False
        return hmac.compare_digest(cookie, self._cookie)


def _take_dashboard_cookie(scope: Scope) -> bytes | None:
    """Remove the dashboard cookie from the request's headers and return its value."""
    found: bytes | None = None
    rewritten: list[tuple[bytes, bytes]] = []
    for name, value in scope["headers"]:
        if name == b"cookie":
            value_found, rest = split_cookie(value)
            found = value_found if value_found is not None else found
            if rest:
                rewritten.append((name, rest))
        else:
            rewritten.append((name, value))
    if found is not None:
        scope["headers"] = rewritten
        scope[COOKIE_SCOPE_KEY] = found
    return found


def _credentials(scope: Scope, headers: dict[bytes, bytes]) -> list[bytes]:
    """The bearer credentials offered: the Authorization header's, then (WebSocket) each
    `kato.bearer.<credential>` subprotocol's."""
    offered = []
    scheme, _, given = headers.get(b"authorization", b"").strip().partition(b" ")
    if scheme.lower() == b"bearer":
        offered.append(given.strip())
    if scope["type"] == "websocket":
        offered.extend(
            p[len(_BEARER_PROTOCOL) :].encode()
            for p in scope.get("subprotocols", ())
            if p.startswith(_BEARER_PROTOCOL)
        )
    return offered


class HeadAsGet:
    """HEAD is GET without the body (RFC 9110 §9.3.2): routed as GET, body dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


async def reject(scope: Scope, send: Send, error: SessionError, request_id: str) -> None:
    """Answer `error` before any route is reached (a WebSocket is closed with its code)."""
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
