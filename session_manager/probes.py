"""The manager's probes: `/health` and `/health/live` (the process answers), `/health/startup`
(start-up recovery is done and the loops run), `/ready` and `/health/ready` (the container
engine answers and the registry is open: the manager can create, wake and hibernate now).

The `/health…` paths are open without the API key (`kato.contract.PROBE_PATHS`), so
orchestrators and load balancers can probe; `/ready` keeps its key and, for the operator, the
count of running sessions. Only readiness looks at a dependency: a stopped engine makes the
manager unready, never dead, so an orchestrator does not restart it for the engine's sake.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from container_manager import ContainerManagerError
from kato.contract import HEALTH_PATH, LIVE_PATH, READY_PATH, STARTUP_PATH, error_body

from .responses import with_errors
from .sessions import SessionService

__all__ = ["router"]

router = APIRouter()



@router.get(HEALTH_PATH)
async def health() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "healthy"}


@router.get(LIVE_PATH)
async def health_live() -> dict[str, str]:
    """Liveness (the probe's own path): the process serves requests; checks nothing else."""
    return {"status": "live"}


@router.get(
    STARTUP_PATH,
    responses=with_errors({200: {"description": 'Started: `{"status": "started"}`'}}, 503),
)
async def health_startup(request: Request) -> Response:
    """Start-up done: the registry is open, start-up recovery (adoption of the containers
    that exist) has run and the reaper, reconcile and pool loops are started."""
    if not getattr(request.app.state, "started", False):
        return _not_ready("the manager is starting")
    return JSONResponse({"status": "started"})


@router.get(
    "/ready",
    responses=with_errors(
        {200: {"description": 'Ready: `{"status": "ready", "running": <N>}`'}}, 503
    ),
)
async def ready(request: Request) -> Response:
    """Readiness: the Docker engine answers and the registry is open."""
    service = await _ready_service(request)
    if isinstance(service, Response):
        return service
    return JSONResponse({"status": "ready", "running": service.running_count()})


@router.get(
    READY_PATH,
    responses=with_errors({200: {"description": 'Ready: `{"status": "ready"}`'}}, 503),
)
async def health_ready(request: Request) -> Response:
    """Readiness (the open probe): the same checks as `/ready`, without the count."""
    service = await _ready_service(request)
    return service if isinstance(service, Response) else JSONResponse({"status": "ready"})


async def _ready_service(request: Request) -> SessionService | Response:
    """The service when it can act now, else the 503 that says why."""
    service: SessionService | None = getattr(request.app.state, "service", None)
    if service is None:
        return _not_ready("the manager is starting")
    try:
        await asyncio.to_thread(service.containers.ping)
    except ContainerManagerError as exc:
        return _not_ready(exc.message, {"cause": exc.code})
    if not service.registry.is_open:
        return _not_ready("session registry is closed")
    return service


def _not_ready(message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(error_body("KATO_NOT_READY", message, 503, details), status_code=503)
