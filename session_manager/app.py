"""`create_app`: the sessions API, the proxy routes and the lifespan that owns the resources.

The lifespan opens the registry and one pooled aiohttp client, reconciles records with the
containers that exist (adoption after a restart), then runs the reaper and reconcile loops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import aiohttp
from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from container_manager import ContainerManagerError, ContainerSettings, KatoContainerManager

from .errors import SessionError, error_body
from .events import router as events_router
from .logs import session_id_var
from .metrics import ManagerMetrics
from .middleware import RequestContextMiddleware
from .models import CreateSessionRequest, SessionList, SessionView
from .proxy import forward
from .reaper import Upkeep
from .reconcile import reconcile
from .registry import SessionRegistry
from .sessions import SessionService
from .settings import ManagerSettings
from .webhooks import WebhookMetrics, open_events
from .ws_relay import relay

__all__ = ["create_app"]

log = logging.getLogger("session_manager.app")

_PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(
    settings: ManagerSettings | None = None,
    container_manager: KatoContainerManager | None = None,
) -> FastAPI:
    settings = settings or ManagerSettings()
    metrics = ManagerMetrics()
    webhook_metrics = WebhookMetrics(metrics.registry)
    containers = container_manager or KatoContainerManager(
        ContainerSettings(state_dir=settings.state_dir)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = SessionRegistry(settings.registry_path)
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=64, keepalive_timeout=60)
        client = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        events, webhooks = open_events(settings, webhook_metrics)
        app.state.events = events
        service = SessionService(settings, registry, containers, client, metrics, events=events)
        metrics.watch_sessions(registry.count_by_status)
        app.state.service = service
        try:
            await reconcile(service)
        except ContainerManagerError as exc:
            log.error("start-up reconcile failed: %s", exc.message, extra={"code": exc.code})
        upkeep = Upkeep(service)
        upkeep.start()
        webhooks.start()
        try:
            yield
        finally:
            await webhooks.stop()
            await upkeep.stop()
            service.flush_activity()
            await client.close()
            registry.close()
            events.log.close()

    app = FastAPI(title="KATO session manager", lifespan=lifespan)
    app.add_middleware(
        RequestContextMiddleware,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
    )
    _add_error_handlers(app)
    app.include_router(events_router)
    proxy_timeout = aiohttp.ClientTimeout(total=settings.proxy_timeout)

    def service_of(request: Request | WebSocket) -> SessionService:
        service: SessionService = request.app.state.service
        return service

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "healthy"}

    @app.get("/ready")
    async def ready(request: Request) -> Response:
        """Readiness: the Docker engine answers and the registry is open."""
        service = service_of(request)
        try:
            await asyncio.to_thread(containers.ping)
        except ContainerManagerError as exc:
            return _error_response(503, "KATO_NOT_READY", exc.message, {"cause": exc.code})
        if not service.registry.is_open:
            return _error_response(503, "KATO_NOT_READY", "session registry is closed")
        return JSONResponse({"status": "ready", "running": service.running_count()})

    @app.get("/metrics")
    async def metrics_text() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/session/create", status_code=201)
    async def create_session(
        request: Request, body: Annotated[CreateSessionRequest | None, Body()] = None
    ) -> SessionView:
        """Every field is optional, so is the body: `curl -XPOST …/session/create` works."""
        body = body or CreateSessionRequest()
        service = service_of(request)
        record = await service.create(body.user_id, body.genes, body.ttl_seconds)
        session_id_var.set(record.session_id)
        log.info("session created", extra={"processor_id": record.processor_id})
        return SessionView.of(record)

    @app.get("/sessions")
    async def list_sessions(request: Request, user_id: str | None = None) -> SessionList:
        service = service_of(request)
        return SessionList(
            sessions=[
                SessionView.of(r, service.last_activity(r)) for r in service.list_sessions(user_id)
            ]
        )

    @app.get("/session/{session_id}")
    async def get_session(session_id: str, request: Request) -> SessionView:
        session_id_var.set(session_id)
        service = service_of(request)
        record = service.get(session_id)
        return SessionView.of(record, service.last_activity(record))

    @app.delete("/session/{session_id}", status_code=204)
    async def delete_session(session_id: str, request: Request) -> Response:
        session_id_var.set(session_id)
        await service_of(request).delete(session_id)
        return Response(status_code=204)

    @app.websocket("/session/{session_id}/ws")
    async def session_ws(websocket: WebSocket, session_id: str) -> None:
        session_id_var.set(session_id)
        await relay(websocket, session_id, service_of(websocket))

    @app.api_route("/session/{session_id}/{path:path}", methods=_PROXY_METHODS)
    async def proxy(session_id: str, request: Request) -> Response:
        session_id_var.set(session_id)
        return await forward(request, session_id, service_of(request), metrics, proxy_timeout)

    return app


def _error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, status, details), status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SessionError)
    async def session_error(request: Request, exc: SessionError) -> Response:
        if exc.status >= 500:
            log.warning("request failed: %s", exc.message, extra={"code": exc.code})
        response = JSONResponse(exc.body(), status_code=exc.status)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(ContainerManagerError)
    async def engine_error(request: Request, exc: ContainerManagerError) -> Response:
        log.warning("container engine error: %s", exc.message, extra={"code": exc.code})
        return _error_response(503, exc.code, exc.message, exc.details)

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
        return _error_response(exc.status_code, code, str(exc.detail))
