"""`create_app`: the manager's app, its middleware, error handlers and the lifespan that owns
its resources (the routes are in `api/`).

The lifespan opens the registry and one pooled aiohttp client, reconciles records with the
containers that exist (adoption after a restart), then runs the reaper and reconcile loops.
Every answer the manager makes itself is documented in the OpenAPI schema (errors included);
a schema fuzzer checks that in the tests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from container_manager import ContainerManagerError, KatoContainerManager
from kato.contract import error_body
from kato.web import tracing
from kato.web.route_table import route_table

from . import fast_path, portability, probes
from .api import include_api
from .auth import TokenVerifier
from .dashboard.router import router as dashboard_router
from .default_sessions import DefaultSessions
from .engine_errors import as_session_error
from .errors import SessionError
from .events import router as events_router
from .genes import document_limits
from .limits import RateLimitMiddleware, RateLimits
from .metrics import ManagerMetrics
from .middleware import HeadAsGet, RequestContextMiddleware
from .reaper import Upkeep
from .reconcile import reconcile_at_startup
from .registry import SessionRegistry
from .responses import error_responses
from .routing import Router, make_router
from .sessions import SessionService
from .settings import ManagerSettings
from .upstream import Upstreams
from .webhooks import WebhookMetrics, open_events

__all__ = ["create_app"]

log = logging.getLogger("session_manager.app")


def create_app(
    settings: ManagerSettings | None = None,
    container_manager: KatoContainerManager | None = None,
    router_of: Callable[[ManagerSettings], Router] | None = None,
) -> FastAPI:
    """The manager's app; `router_of` makes its router (default: `KATO_ROUTER`'s)."""
    settings = settings or ManagerSettings()
    metrics = ManagerMetrics()
    webhook_metrics = WebhookMetrics(metrics.registry)
    containers = container_manager or KatoContainerManager(settings.container_settings())
    metrics.max_sessions.set(settings.max_sessions)
    metrics.watch_engine(containers.ping)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = SessionRegistry(settings.registry_path)
        # No DNS cache: a woken session's container (or Swarm service) keeps its name but gets a
        # new address, and a cached one would send the restore to the old, removed container.
        # Connections are pooled, so names are resolved per new connection only.
        connector = aiohttp.TCPConnector(
            limit=0, limit_per_host=64, keepalive_timeout=60, use_dns_cache=False
        )
        client = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        app.state.upstreams = upstreams = Upstreams()  # the proxy's own connections
        events, webhooks = open_events(settings, webhook_metrics)
        app.state.events = events
        router = router_of(settings) if router_of is not None else make_router(settings)
        await router.start()  # adopts the router a previous manager left running
        service = SessionService(
            settings, registry, containers, client, metrics, events=events, router=router
        )
        metrics.watch_sessions(registry.count_by_status)
        if router.external:
            metrics.watch_router(service.routed_activity)
        metrics.watch_quota(registry.owned_counts, settings.max_sessions_per_user)
        app.state.service = service
        app.state.default_sessions = DefaultSessions(service)
        try:
            await reconcile_at_startup(service)
        except ContainerManagerError as exc:
            log.error("start-up reconcile failed: %s", exc.message, extra={"code": exc.code})
        upkeep = Upkeep(service)
        upkeep.start()
        webhooks.start()
        app.state.started = True
        try:
            yield
        finally:
            app.state.started = False
            await webhooks.stop()
            await upkeep.stop()
            await service.pool.stop()
            await service.flush_activity()
            await client.close()
            upstreams.close()
            await router.close()  # an external router keeps serving its routes
            registry.close()
            tracing.flush()
            events.log.close()

    app = FastAPI(
        title="KATO session manager",
        lifespan=lifespan,
        responses=error_responses(400, 401, 405, 413, 429),
    )
    fast_path.install(app)  # innermost: every rule of the middleware below applies to it
    app.add_middleware(HeadAsGet)
    # Inside the request context: the caller is known when the rates are counted.
    rate_limits = RateLimits(settings, on_refusal=metrics.rejected)
    metrics.quota_limit.set(settings.max_sessions_per_user)
    metrics.rate_limit_buckets.set_function(lambda: len(rate_limits))
    app.add_middleware(
        RateLimitMiddleware,
        limits=rate_limits,
        shed_inflight=settings.shed_inflight,
        retry_after=settings.retry_after,
    )
    app.add_middleware(
        RequestContextMiddleware,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        body_limits=portability.body_limits(settings),
        tokens=TokenVerifier(settings),
    )
    tracing.setup("kato-session-manager")
    app.add_middleware(tracing.TracingMiddleware, service="session-manager")  # outermost
    app.state.metrics = metrics
    app.state.rate_limits = rate_limits  # the WebSocket relay counts messages too
    _add_error_handlers(app)
    # Before the proxy's catch-all `/session/{id}/{path}`, which would take their paths.
    app.include_router(probes.router)
    app.include_router(dashboard_router)
    if settings.events_stream:
        app.include_router(events_router)
    include_api(app)

    schema_of = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with this deployment's resource ceilings (`genes`)."""
        if app.openapi_schema is None:
            document_limits(schema_of(), containers.settings)
        return app.openapi_schema or schema_of()

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, status, details), status_code=status)


def _session_error_response(exc: SessionError) -> Response:
    response = JSONResponse(exc.body(), status_code=exc.status)
    response.headers.update(exc.headers)
    return response


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SessionError)
    async def session_error(request: Request, exc: SessionError) -> Response:
        if exc.status >= 500:
            log.warning("request failed: %s", exc.message, extra={"code": exc.code})
        return _session_error_response(exc)

    @app.exception_handler(ContainerManagerError)
    async def container_error(request: Request, exc: ContainerManagerError) -> Response:
        return _session_error_response(as_session_error(exc))  # logged there, engine text too

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return _error_response(422, "KATO_VALIDATION_ERROR", "invalid request", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "KATO_NOT_FOUND", 405: "KATO_METHOD_NOT_ALLOWED"}.get(
            exc.status_code, "KATO_HTTP_ERROR"
        )
        response = _error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed(app, request))
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        """Never a plain-text 500: logged with its traceback, answered as a JSON error."""
        log.error("unexpected error", exc_info=exc)
        return _error_response(500, "KATO_INTERNAL_ERROR", "internal error")


def _allowed(app: FastAPI, request: Request) -> list[str]:
    """Methods of the most specific routes matching the path (GET brings HEAD, see
    `HeadAsGet`): `/session/create` is POST only, although `/session/{session_id}` (GET,
    DELETE) matches it too; a GET there is an unknown session, not a method of that path."""
    path = request.scope["path"]
    matching = [
        (entry.parameters, entry.methods)
        for entry in route_table(app.router.routes)
        if entry.methods and entry.regex.match(path)
    ]
    fewest = min((params for params, _ in matching), default=0)
    allowed = set().union(*(methods for params, methods in matching if params == fewest))
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)
