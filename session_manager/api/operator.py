"""The manager's own metrics: its Prometheus text, and every running processor's (operator
only: a user token gets a 403)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..access import OperatorOnly
from ..metrics import ManagerMetrics
from ..processor_metrics import processor_metrics
from ..responses import error_responses
from .deps import Service

__all__ = ["PROMETHEUS", "router"]

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
_TEXT = {200: {"description": "Prometheus text format", "content": {PROMETHEUS: {}}}}

router = APIRouter(dependencies=[OperatorOnly], responses=error_responses(403))


@router.get("/metrics", response_class=Response, responses=_TEXT)  # type: ignore[arg-type]
async def metrics_text(request: Request) -> Response:
    """Prometheus metrics (text exposition format 0.0.4)."""
    metrics: ManagerMetrics = request.app.state.metrics
    return Response(await asyncio.to_thread(metrics.render), media_type=PROMETHEUS)


@router.get("/metrics/processors", response_class=Response, responses=_TEXT)  # type: ignore[arg-type]
async def processor_metrics_text(service: Service) -> Response:
    """Every running processor's Prometheus metrics, each sample labelled `session_id`
    (hibernated sessions are not woken, and no session's idle time is reset)."""
    return Response(await processor_metrics(service), media_type=PROMETHEUS)
