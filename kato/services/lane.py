"""The direct lane: hot routes answered without routing and FastAPI's per-request handler.

Why: for ``POST /observe`` and the other routes of :data:`PATHS`, Starlette's exception layer, the
router (a pattern match per route) and FastAPI's request handler (dependency solving, exit stacks)
cost more than the endpoint's own HTTP work: in process, ``GET /health`` takes about 30 µs on the
lane and 200 µs through them (2-core development machine). These endpoints take only the request
and return a finished :class:`Response`, so none of that work changes their answer: the lane looks
the route up by exact ``(method, path)`` and calls its endpoint.

Where: one ASGI layer just inside CORS (see :func:`install`). Everything outside it is shared with
the regular routes: CORS adds its own headers, and the service middleware
(:mod:`kato.services.middleware`) does trace id, auth, ``HEAD``, metrics, access log and the
last-resort 500 for both paths.

Same answer, by construction:
* the endpoint is the route's own, and ``scope["route"]`` is that route, as the router sets it
  (metrics label requests by its path);
* an exception goes to the handler the app registered for it, picked the way Starlette's exception
  layer picks (nearest class of the exception's MRO); unhandled ones propagate as they would;
* :func:`install` refuses, when the app is built, an endpoint whose answer the lane could not
  reproduce (:func:`check_endpoint`) or exception handlers it could not call the same way.

Requests that carry an ``Origin`` header (browsers) take the full way, as they always have.
``tests/unit/kato/services/test_lane.py`` builds the app with and without the lane and checks
that every lane route answers the same, errors included.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

#: The hot paths: every route at one of these paths is served by the lane.
PATHS = frozenset({
    "/observe", "/learn", "/clear-stm", "/clear-short-term-memory", "/stm", "/short-term-memory",
    "/status", "/health",
})

LaneRoutes = Mapping[tuple[str, str], APIRoute]
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

#: Handlers FastAPI gives to the outermost error layer, not to the exception layer the lane stands
#: in for (``FastAPI.build_middleware_stack``).
_SERVER_ERROR_KEYS = (500, Exception)


class LaneError(RuntimeError):
    """The app has a lane route or exception handler the lane cannot serve like the router."""


def check_endpoint(route: APIRoute) -> None:
    """Raise :class:`LaneError` unless ``route`` is ``async def endpoint(request) -> Response``
    with no dependency: then FastAPI's handler only passes the request in and the response out,
    which is all the lane does (:data:`PATHS` are fixed paths: no path parameters either)."""
    endpoint = route.endpoint
    problems = []
    if not inspect.iscoroutinefunction(endpoint):
        problems.append("is not a coroutine function")
    only_request = route.dependant.request_param_name is not None
    if len(inspect.signature(endpoint).parameters) != 1 or not only_request:
        problems.append("takes something besides the request")
    if route.dependant.dependencies:
        problems.append("has dependencies")
    returns = typing.get_type_hints(endpoint).get("return")
    if not (inspect.isclass(returns) and issubclass(returns, Response)):
        problems.append("is not annotated to return a Response")
    if problems:
        methods = ", ".join(sorted(route.methods or ()))
        raise LaneError(f"{methods} {route.path}: the endpoint {', '.join(problems)}")


def lane_routes(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], APIRoute]:
    """``(method, path)`` → route for every route at a path of :data:`PATHS`, each checked."""
    table: dict[tuple[str, str], APIRoute] = {}
    for route in routes:
        if not isinstance(route, APIRoute) or route.path not in PATHS:
            continue
        check_endpoint(route)
        for method in route.methods or ():
            if (method, route.path) in table:
                raise LaneError(f"{method} {route.path}: served by two routes")
            table[method, route.path] = route
    if missing := PATHS - {path for _, path in table}:
        raise LaneError(f"no route at {sorted(missing)}")
    return table


def check_handlers(handlers: Mapping[Any, Any]) -> None:
    """The lane calls exception handlers by exception class and awaits them; refuse others."""
    for key, handler in handlers.items():
        if key in _SERVER_ERROR_KEYS:
            continue
        if not (inspect.isclass(key) and issubclass(key, Exception)):
            raise LaneError(f"exception handler for {key!r}: only exception classes are served")
        if not inspect.iscoroutinefunction(handler):
            raise LaneError(f"exception handler for {key.__name__} is not a coroutine function")


def install(app: FastAPI, router: APIRouter) -> None:
    """Serve the :data:`PATHS` routes of ``router`` (included in ``app`` as it is, no prefix) on
    the lane; raise :class:`LaneError` if the lane cannot answer for them as the router would.

    Call it once the exception handlers are registered, and before CORS is added, so that CORS
    wraps the lane (Starlette's last added middleware is the outermost).
    """
    routes = lane_routes(router.routes)
    check_handlers(app.exception_handlers)
    app.add_middleware(DirectLane, routes=routes, handlers=app.exception_handlers)


def _has_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"origin" for name, _ in headers)


class DirectLane:
    """Calls the endpoint of a lane route itself; hands every other request on unchanged."""

    def __init__(
        self, app: ASGIApp, *, routes: LaneRoutes, handlers: Mapping[Any, Callable[..., Any]]
    ) -> None:
        self.app = app
        self.routes = routes
        # Copied when the middleware stack is built, as FastAPI copies them for Starlette's
        # exception layer: both then serve the same table for the app's life. All coroutine
        # functions (check_handlers).
        self.handlers: dict[Any, ExceptionHandler] = dict(handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.routes.get((scope["method"], scope["path"]))
            if route is not None and not _has_origin(scope["headers"]):
                await self.call(route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def call(self, route: APIRoute, scope: Scope, receive: Receive, send: Send) -> None:
        """What Starlette's exception layer, the router and FastAPI's handler do for ``route``."""
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response: Response = await route.endpoint(request)
        except Exception as exc:
            handler = self.handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def handler_for(self, exc: Exception) -> ExceptionHandler | None:
        """The app's handler for the nearest class of ``exc``, as Starlette's exception layer
        picks it; ``None``: the exception propagates, as it would from the router."""
        for kind in type(exc).__mro__:
            if kind in _SERVER_ERROR_KEYS:
                return None
            handler = self.handlers.get(kind)
            if handler is not None:
                return handler
        return None
