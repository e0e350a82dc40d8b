"""`create_app`: the sessions API, the proxy routes and the lifespan that owns the resources.

The lifespan opens the registry and one pooled aiohttp client, reconciles records with the
containers that exist (adoption after a restart), then runs the reaper and reconcile loops.
Every answer the manager makes itself is documented in the OpenAPI schema (errors included);
a schema fuzzer checks that in the tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import aiohttp
from fastapi import Body, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.websockets import WebSocket

from container_manager import ContainerManagerError, KatoContainerManager
from kato.contract import error_body
from kato.web import tracing

from . import portability, probes
from .dashboard.router import router as dashboard_router
from .engine_errors import as_session_error
from .errors import SessionError
from .events import router as events_router
from .genes import check_limits, document_limits
from .hibernation import router as hibernation_router
from .logs import session_id_var
from .metrics import ManagerMetrics
from .middleware import HeadAsGet, RequestContextMiddleware
from .models import SESSION_ID, USER_ID, CreateSessionRequest, SessionList, SessionView
from .processor_metrics import processor_metrics
from .proxy import forward
from .reaper import Upkeep
from .reconcile import reconcile_at_startup
from .registry import SessionRegistry
from .responses import error_responses, with_errors
from .sessions import SessionService
from .settings import ManagerSettings
from .webhooks import WebhookMetrics, open_events
from .ws_relay import relay

__all__ = ["create_app"]

log = logging.getLogger("session_manager.app")

# HEAD arrives as GET (see `HeadAsGet`).
_PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


_SESSION_ID_DOC = f"A session id as returned by `POST /session/create` ({SESSION_ID})."


def create_app(
    settings: ManagerSettings | None = None,
    container_manager: KatoContainerManager | None = None,
) -> FastAPI:
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
        events, webhooks = open_events(settings, webhook_metrics)
        app.state.events = events
        service = SessionService(settings, registry, containers, client, metrics, events=events)
        metrics.watch_sessions(registry.count_by_status)
        app.state.service = service
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
            service.flush_activity()
            await client.close()
            registry.close()
            tracing.flush()
            events.log.close()

    app = FastAPI(
        title="KATO session manager",
        lifespan=lifespan,
        responses=error_responses(400, 401, 405, 413),
    )
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        RequestContextMiddleware,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        body_limits=portability.body_limits(settings),
    )
    tracing.setup("kato-session-manager")
    app.add_middleware(tracing.TracingMiddleware, service="session-manager")  # outermost
    _add_error_handlers(app)
    # Before the proxy's catch-all `/session/{id}/{path}`, which would take their paths.
    app.include_router(probes.router)
    app.include_router(hibernation_router)
    app.include_router(dashboard_router)
    if settings.events_stream:
        app.include_router(events_router)
    proxy_timeout = aiohttp.ClientTimeout(total=settings.proxy_timeout)

    def service_of(request: Request | WebSocket) -> SessionService:
        service: SessionService = request.app.state.service
        return service

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"description": "Prometheus text format", "content": {_PROMETHEUS: {}}}},
    )
    async def metrics_text() -> Response:
        """Prometheus metrics (text exposition format 0.0.4)."""
        return Response(await asyncio.to_thread(metrics.render), media_type=_PROMETHEUS)

    @app.get(
        "/metrics/processors",
        response_class=Response,
        responses={200: {"description": "Prometheus text format", "content": {_PROMETHEUS: {}}}},
    )
    async def processor_metrics_text(request: Request) -> Response:
        """Every running processor's Prometheus metrics, each sample labelled `session_id`
        (hibernated sessions are not woken, and no session's idle time is reset)."""
        return Response(await processor_metrics(service_of(request)), media_type=_PROMETHEUS)

    @app.post("/session/create", status_code=201, responses=error_responses(422, 502, 503))
    async def create_session(
        request: Request, body: Annotated[CreateSessionRequest | None, Body()] = None
    ) -> SessionView:
        """Every field is optional, so is the body: `curl -XPOST …/session/create` works.
        The answer is one of the two places the session's container token appears."""
        body = body or CreateSessionRequest()
        check_limits(body.genes, containers.settings)  # before anything is recorded or started
        service = service_of(request)
        record = await service.create(body.user_id, body.genes.as_config(), body.ttl_seconds)
        session_id_var.set(record.session_id)
        log.info("session created", extra={"processor_id": record.processor_id})
        return SessionView.of(record)

    @app.get("/sessions", responses=error_responses(422))
    async def list_sessions(
        request: Request,
        user_id: Annotated[str | None, Query(max_length=200, pattern=USER_ID)] = None,
    ) -> SessionList:
        """Every session (or one user's), oldest first; tokens are never listed."""
        service = service_of(request)
        records = await service.list_sessions(user_id)
        return SessionList.of([(r, service.last_activity(r)) for r in records])

    @app.get("/session/{session_id}", responses=error_responses(404, 422))
    async def get_session(
        request: Request, session_id: Annotated[str, _session_id_param()]
    ) -> SessionView:
        """One session, with its container token while it runs."""
        session_id_var.set(session_id[:64])
        service = service_of(request)
        record = await service.get(session_id)
        return SessionView.of(record, service.last_activity(record))

    @app.delete("/session/{session_id}", status_code=204, responses=error_responses(404, 422, 503))
    async def delete_session(
        request: Request, session_id: Annotated[str, _session_id_param()]
    ) -> Response:
        """Remove the session, its container and its data volume."""
        session_id_var.set(session_id[:64])
        await service_of(request).delete(session_id)
        return Response(status_code=204)

    app.include_router(portability.router)  # before the proxy route, which would take its paths

    @app.websocket("/session/{session_id}/ws")
    async def session_ws(websocket: WebSocket, session_id: str) -> None:
        session_id_var.set(session_id[:64])
        await relay(websocket, service_of(websocket))

    async def proxy(
        request: Request,
        session_id: Annotated[str, _session_id_param()],
        path: Annotated[str, PathParam(description="The processor's own path, e.g. `observe`.")],
    ) -> Response:
        """Any processor route of the session's container (woken first if it hibernates)."""
        session_id_var.set(session_id[:64])
        return await forward(request, session_id, service_of(request), metrics, proxy_timeout)

    for method in _PROXY_METHODS:  # one route per method: one OpenAPI operation id each
        app.add_api_route(
            "/session/{session_id}/{path:path}",
            proxy,
            methods=[method],
            name=f"proxy_{method.lower()}",
            response_class=Response,
            responses=with_errors(
                {
                    200: {
                        "description": "The processor's answer, passed through as it is.",
                        "content": _ANY_MEDIA,
                    },
                    "default": {
                        "description": "The processor's answer, passed through as is.",
                        "content": _ANY_MEDIA,
                    },
                },
                404,
                422,
                502,
                503,
                504,
            ),
        )

    schema_of = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with this deployment's resource ceilings (`genes`)."""
        if app.openapi_schema is None:
            document_limits(schema_of(), containers.settings)
        return app.openapi_schema or schema_of()

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
#: A proxied answer is the processor's, in whatever type it has (JSON, Prometheus text, …).
_ANY_MEDIA: dict[str, Any] = {"*/*": {}}


def _session_id_param() -> Any:
    # Not a `pattern`: an id of another format is an unknown session (404), not a 422.
    return PathParam(description=_SESSION_ID_DOC)


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
    matching: list[tuple[int, set[str]]] = []
    for route in _flattened(app.router.routes):
        match, _ = route.matches({**request.scope, "method": ""})
        methods = getattr(route, "methods", None)
        if match != Match.NONE and methods:
            matching.append((len(getattr(route, "param_convertors", {})), set(methods)))
    fewest = min((params for params, _ in matching), default=0)
    allowed = set().union(*(methods for params, methods in matching if params == fewest))
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)


def _flattened(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too (FastAPI 0.165 lists an included router as
    one `_IncludedRouter` entry that holds its routes)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield route
        else:
            yield from _flattened(inner.routes)
