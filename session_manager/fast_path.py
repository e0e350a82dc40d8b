"""The proxy's fast lane: a routed session's plain processor requests forwarded without
Starlette's routing, FastAPI's request handler and Request/Response objects.

Why: on `GET /session/<id>/stm` the manager spent more of each request on the route table (a
pattern match per route, two prefixes of them), dependency solving and the Request and
Response objects than on the proxying itself (docs/benchmarks.md, "Router"). The lane looks at
the raw path once and, for a request the router would give to the proxy's catch-all, calls
what that route calls: `proxy.exchange` with the route held (`SessionService.acquire`).

Where: the innermost middleware (`install`), so every rule of the layers outside it applies to
both ways unchanged: trace context and the server span (`kato.web.tracing`), the request id,
the API key or user token and the declared body size (`middleware.RequestContextMiddleware`),
rate limits and in-flight shedding (`limits.RateLimitMiddleware`), `HEAD` as `GET`, the access
log line. The lane itself applies what the route and its dependencies would: the streamed body
limit (`KATO_MAX_BODY_BYTES`, 413), the caller's `sessions:write` scope and the session's owner
(from its route), the in-flight count that keeps a session from being paused or hibernated
under a request, the `proxy` span, the metrics, and the app's own exception handlers for
every error (the same JSON bodies).

Taken only when all of this holds, else the request goes on to the app as before:
- an HTTP request with a method the proxy routes (`api.sessions.PROXY_METHODS`);
- a raw path `/session/<id>/<rest>` or `/v2/sessions/<id>/<rest>` (`proxy.split_session_path`)
  that no route of the manager's own under that prefix matches (hibernate, export, fork, ws,
  …: read from the app's route table, so a new one leaves the lane by itself) and a `<rest>`
  other than `/`;
- the session has a route that is not paused (`service.routes`): a hibernated, paused or
  unknown session takes the regular way, which wakes, resumes or refuses it;
- the caller is the operator, or a user token with `sessions:write` whose `sub` owns the
  session (and whose `sid`, if any, is this session) as the route records it.

`tests/unit/session_manager/test_fast_path.py` checks that the lane serves and keeps each rule.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kato.web import tracing
from kato.web.route_table import route_table

from .access import session_visible
from .api.sessions import PROXY_METHODS
from .auth import OPERATOR, PRINCIPAL_KEY, WRITE, Principal
from .errors import PayloadTooLargeError, SessionNotFoundError
from .logs import session_id_var
from .proxy import SESSION_PREFIXES, exchange, raw_path, split_session_path
from .sessions import SessionService

__all__ = ["FastLane", "LaneTable", "install"]

#: The catch-all's template under each prefix (`api.sessions`).
_CATCH_ALL = "/{session_id}/{path:path}"
_METHODS = frozenset(PROXY_METHODS)
#: Handlers FastAPI gives to the outermost error layer, not to the exception layer the lane
#: stands in for (as `kato.services.lane`).
_SERVER_ERROR_KEYS = (500, Exception)


class LaneTable:
    """What the lane reads of the app's routes, once: the proxy route of each prefix and
    method (left in `scope["route"]`, as the router does, for the span's name) and the
    manager's own routes under each prefix, which come first: the literal ones
    (`/{session_id}/hibernate`, …) by their suffix, any other by its pattern."""

    def __init__(self, app: FastAPI) -> None:
        self.proxy_routes: dict[tuple[str, str], object] = {}
        self.own_suffixes: dict[str, set[str]] = {prefix: set() for prefix in SESSION_PREFIXES}
        self.own_patterns: dict[str, list[re.Pattern[str]]] = {p: [] for p in SESSION_PREFIXES}
        for entry in route_table(app.router.routes):
            for prefix in SESSION_PREFIXES:
                item = prefix + "/{session_id}"
                if entry.path == prefix + _CATCH_ALL:
                    for method in entry.methods:
                        self.proxy_routes.setdefault((prefix, method), entry.route)
                elif entry.path.startswith(item + "/") and "{" not in entry.path[len(item) :]:
                    self.own_suffixes[prefix].add(entry.path[len(item) :])
                elif entry.path.startswith(item + "/"):
                    self.own_patterns[prefix].append(entry.regex)

    def route_for(self, scope: Scope, prefix: str, session_id: str) -> object | None:
        """The proxy route the router would pick for `scope` (its raw path's id segment is
        `session_id`), None if one of the manager's own routes or none. The router matches
        the decoded path: its id segment is the raw one (hex), the rest is decoded."""
        path: str = scope["path"]
        if path[len(prefix) + 1 + len(session_id) :] in self.own_suffixes[prefix]:
            return None
        if any(pattern.match(path) for pattern in self.own_patterns[prefix]):
            return None
        return self.proxy_routes.get((prefix, scope["method"]))


class FastLane:
    """Serves the requests the module docstring lists; hands every other one on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._tables: dict[int, LaneTable] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _METHODS:
            found = self._lane_target(scope)
            if found is not None:
                await self._serve(scope, receive, send, *found)
                return
        await self.app(scope, receive, send)

    def _lane_target(self, scope: Scope) -> tuple[SessionService, str, str] | None:
        """(service, session id, rest of the raw path) when the lane takes the request."""
        raw = raw_path(scope)
        for prefix in SESSION_PREFIXES:
            if raw.startswith(prefix) and raw[len(prefix) : len(prefix) + 1] == "/":
                break
        else:
            return None
        try:
            session_id, rest = split_session_path(raw)
        except SessionNotFoundError:
            return None
        app = scope["app"]
        service: SessionService | None = getattr(app.state, "service", None)
        route = service.routes.get(session_id) if service is not None else None
        if service is None or route is None or route.paused or rest == "/":
            return None
        principal: Principal = scope.get(PRINCIPAL_KEY, OPERATOR)
        if not principal.is_operator and (
            WRITE not in principal.scopes
            or route.owner is None
            or not session_visible(principal, session_id, route.owner)
        ):
            return None
        proxy_route = self._table(app).route_for(scope, prefix, session_id)
        if proxy_route is None:
            return None
        scope["route"] = proxy_route
        return service, session_id, rest

    def _table(self, app: FastAPI) -> LaneTable:
        table = self._tables.get(id(app))
        if table is None:
            table = self._tables[id(app)] = LaneTable(app)
        return table

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        service: SessionService,
        session_id: str,
        rest: str,
    ) -> None:
        session_id_var.set(session_id)
        try:
            answer = await _proxy(scope, receive, service, session_id, rest)
        except Exception as exc:
            response = await _handled(scope, receive, exc)
            await response(scope, receive, send)
            return
        if answer is None:  # the client went away before its body arrived
            return
        status, headers, content = answer
        if not (status < 200 or status in (204, 304)):  # as Starlette's `Response`
            headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


@tracing.traced("proxy", kind="client")
async def _proxy(
    scope: Scope, receive: Receive, service: SessionService, session_id: str, rest: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    """`proxy.forward` without its Request: the body read within its limit, the request sent
    on with the route held (a route dropped meanwhile is woken, as `forward` would)."""
    started = time.perf_counter()
    body = await _read_body(receive, service.settings.max_body_bytes)
    if body is None:
        return None
    route = await service.acquire(session_id)  # `held`, without its generator's cost
    try:
        answer = await exchange(service, session_id, route, scope["method"], rest, scope, body)
    finally:
        service.release(session_id, route)
    service.metrics.proxy_seconds.observe(time.perf_counter() - started)
    return answer


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, at most `limit` bytes (a declared length over it was refused by the
    request middleware already); None if the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError.body_over(size, limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _handled(scope: Scope, receive: Receive, exc: Exception) -> Response:
    """The app's answer to `exc`, from the handler the app registered for its nearest class
    (as Starlette's exception layer picks it); an unhandled one propagates, as it would from
    the router, to the outermost error layer."""
    handlers: dict[Any, Any] = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        if kind in _SERVER_ERROR_KEYS:
            break
        handler = handlers.get(kind)
        if handler is not None:
            response: Response = await handler(Request(scope, receive), exc)
            return response
    raise exc


def install(app: FastAPI) -> None:
    """The lane as the app's innermost middleware: call it before any other `add_middleware`
    (Starlette's last added is the outermost)."""
    assert not app.user_middleware, "the fast lane goes inside every other middleware"
    app.add_middleware(FastLane)
