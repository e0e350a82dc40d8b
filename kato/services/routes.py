"""The HTTP API of spec §7 (with its aliases), plus ``GET``/``PUT /state`` for hibernation.

Handlers take the raw :class:`Request`, parse bodies themselves (see :mod:`kato.services.body`)
and return :class:`FastJSONResponse` objects, which keeps FastAPI's per-request work minimal.

Response models are documentation only, so routes get them when the OpenAPI schema is first built
(:func:`document_responses`): as route arguments they made FastAPI build ~150 response fields at
import, a sixth of the service's start-up time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import PlainTextResponse, Response

from kato.contract import LIVE_PATH, METRICS_TEXT_PATH, READY_PATH, STARTUP_PATH
from kato.services.body import openapi_body, parse_body
from kato.services.errors import FastJSONResponse, ServiceError
from kato.services.gate import ProcessorGate
from kato.services.metrics import wants_prometheus
from kato.services.models import (
    CognitionResponse,
    ErrorResponse,
    GeneResponse,
    GenesUpdate,
    HealthResponse,
    LearnResponse,
    MetricsResponse,
    ObservationData,
    ObserveResponse,
    ObserveSequenceRequest,
    ObserveSequenceResponse,
    PatternResponse,
    PerceptResponse,
    PredictionsResponse,
    ProbeResponse,
    StateSnapshot,
    StatusMessage,
    StatusResponse,
    StmResponse,
)
from kato.services.runtime import runtime_of
from kato.services.sequence import run_sequence

router = APIRouter()

# Error answers each kind of endpoint can give (documented per route, ErrorResponse bodies):
# 401 without the token (all but the probes), 500 for an unexpected failure (logged, no details).
_READ = (401, 500)
_BODY = (401, 413, 422, 500)  # a body: too large, or malformed
_WRITE = (401, 500, 503)  # writes the store: 503 when it fails
PROMETHEUS_TYPES = ("text/plain", "application/openmetrics-text")


class PrometheusText:
    """Marks an answer that is Prometheus exposition text only (no JSON form)."""


@dataclass(frozen=True)
class _Documented:
    model: type[Any]
    errors: tuple[int, ...]
    text: tuple[str, ...]


_RESPONSE_MODELS: dict[Callable[..., Any], _Documented] = {}

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def _documents(
    model: type[Any], *errors: int, text: tuple[str, ...] = ()
) -> Callable[[EndpointT], EndpointT]:
    """Document an endpoint's 200 answer as ``model`` (and as plain text of the ``text`` media
    types) and each status of ``errors`` as the error shape, in the OpenAPI schema."""

    def mark(endpoint: EndpointT) -> EndpointT:
        _RESPONSE_MODELS[endpoint] = _Documented(model, tuple(sorted(set(errors))), text)
        return endpoint

    return mark


def document_responses() -> None:
    """Attach the response models to the routes, exactly as the route arguments
    ``response_model=None, responses={200: {"model": M}, 4xx/5xx: {"model": ErrorResponse}}``
    would have; idempotent. Only the OpenAPI schema reads them."""
    from fastapi.utils import create_model_field

    changed = False
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.responses:
            continue
        documented = _RESPONSE_MODELS.get(route.endpoint)
        if documented is None:
            continue
        text_only = documented.model is PrometheusText
        ok: dict[str, Any] = {} if text_only else {"model": documented.model}
        if documented.text:
            text = {"schema": {"type": "string"}}
            json_part: dict[str, Any] = {} if text_only else {"application/json": {}}
            ok["content"] = {**json_part, **{kind: text for kind in documented.text}}
        route.responses = {
            200: ok,
            **{status: {"model": ErrorResponse} for status in documented.errors},
        }
        route.response_fields = {
            status: create_model_field(
                name=f"Response_{status}_{route.unique_id}",
                type_=response["model"],
                mode="serialization",
            )
            for status, response in route.responses.items()
            if "model" in response
        }
        changed = True
    if changed:
        # FastAPI (0.165) serves an included router through copies of its routes made at the
        # first request and kept until the router changes: tell it, or a schema built after
        # any request would document none of this.
        mark_changed = getattr(router, "_mark_routes_changed", None)
        if mark_changed is not None:
            mark_changed()


def _ok(content: Any) -> Response:
    return FastJSONResponse(content)


def _gate(request: Request) -> ProcessorGate:
    return runtime_of(request).gate


@router.get("/health")
@_documents(HealthResponse, 500)
async def health(request: Request) -> Response:
    """Liveness; never waits for the processor lock (and needs no token)."""
    gate = _gate(request)
    return _ok({"status": "healthy", "processor_id": gate.processor_id, "uptime": gate.uptime})


@router.get(LIVE_PATH)
@_documents(ProbeResponse, 500)
async def health_live() -> Response:
    """Liveness: the process answers (no lock, no store): restart the container if not."""
    return _ok({"status": "live"})


@router.get(STARTUP_PATH)
@_documents(ProbeResponse, 500, 503)
async def health_startup(request: Request) -> Response:
    """Start-up done: the store is open, the pattern index rebuilt and the short-term state
    restored. The container manager waits on this probe after starting a container."""
    return _probe(request, "started")


@router.get(READY_PATH)
@_documents(ProbeResponse, 500, 503)
async def health_ready(request: Request) -> Response:
    """Ready to serve a request now: started and not shutting down (503 otherwise)."""
    return _probe(request, "ready")


def _probe(request: Request, status: str) -> Response:
    runtime = runtime_of(request)
    if not runtime.started:
        raise ServiceError("KATO_NOT_READY", 503, "the processor is not open")
    gate = runtime.gate
    return _ok({"status": status, "processor_id": gate.processor_id, "uptime": gate.uptime})


@router.get("/status")
@_documents(StatusResponse, *_READ)
async def status(request: Request) -> Response:
    gate = _gate(request)

    def read() -> dict[str, Any]:
        processor = gate.processor
        return {
            "status": "okay",
            "processor_id": gate.processor_id,
            "processor_name": processor.name,
            "uptime": gate.uptime,
            "stm_length": len(processor.stm),
            "time": processor.time,
        }

    return _ok(await gate.call(read))


@router.post("/observe", openapi_extra=openapi_body(ObservationData))
@_documents(ObserveResponse, *_BODY, *_WRITE)
async def observe(request: Request) -> Response:
    """Observe one event; predictions are fetched separately with ``/predictions``."""
    runtime = runtime_of(request)
    data = await parse_body(request, ObservationData, runtime.limits, runtime.max_body_bytes)
    return _ok(await runtime.gate.call(runtime.gate.observe_result, data, "obs"))


@router.post(
    "/observe-sequence",
    openapi_extra=openapi_body(ObserveSequenceRequest),
)
@_documents(ObserveSequenceResponse, *_BODY, *_WRITE)
async def observe_sequence(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await parse_body(request, ObserveSequenceRequest, runtime.limits, runtime.max_body_bytes)
    return _ok(await runtime.gate.call_slow(run_sequence, runtime.gate, body))


@router.get("/stm")
@router.get("/short-term-memory")
@_documents(StmResponse, *_READ)
async def stm(request: Request) -> Response:
    gate = _gate(request)
    return _ok(await gate.call(gate.stm))


@router.post("/learn")
@_documents(LearnResponse, *_WRITE)
async def learn(request: Request) -> Response:
    """Learn STM as a pattern; ``pattern_name`` is ``""`` when STM holds < 2 symbols."""
    gate = _gate(request)
    return _ok(await gate.call(gate.learn_result))


@router.post("/clear-stm")
@router.post("/clear-short-term-memory")
@_documents(StatusMessage, *_WRITE)
async def clear_stm(request: Request) -> Response:
    gate = _gate(request)
    await gate.call(gate.processor.clear_stm)
    return _ok(gate.status_message("stm-cleared"))


@router.post("/clear-all")
@router.post("/clear-all-memory")
@_documents(StatusMessage, *_WRITE)
async def clear_all(request: Request) -> Response:
    """Forget STM and every learned pattern (runtime genes are kept, QUIRK-22)."""
    gate = _gate(request)
    await gate.call_slow(gate.processor.clear_all)
    return _ok(gate.status_message("all-cleared"))


@router.get("/predictions")
@router.post("/predictions")
@_documents(PredictionsResponse, *_READ)
async def predictions(request: Request, unique_id: str | None = None) -> Response:
    """Cached predictions of the last observation, or the logged ones of ``unique_id``."""
    gate = _gate(request)
    return _ok(await gate.call(gate.predictions, unique_id))


@router.get("/pattern/{pattern_id}")
@_documents(PatternResponse, *_READ, 404)
async def pattern(request: Request, pattern_id: str) -> Response:
    """``pattern_id`` with or without ``PTRN|`` (encode ``|`` as ``%7C``)."""
    gate = _gate(request)
    record = await gate.call(gate.processor.get_pattern, pattern_id)
    return _ok({"pattern": record, "processor_id": gate.processor_id})


@router.post("/genes/update", openapi_extra=openapi_body(GenesUpdate))
@_documents(StatusMessage, 400, *_BODY, *_WRITE)
async def update_genes(request: Request) -> Response:
    """Atomic: an unknown gene (400 KATO_UNKNOWN_GENE) or bad value changes nothing."""
    runtime = runtime_of(request)
    body = await parse_body(request, GenesUpdate, runtime.limits, runtime.max_body_bytes)
    await runtime.gate.call(runtime.gate.processor.update_genes, body.genes)
    return _ok(runtime.gate.status_message("genes-updated"))


@router.get("/gene/{gene_name}")
@_documents(GeneResponse, *_READ, 404)
async def gene(request: Request, gene_name: str) -> Response:
    gate = _gate(request)
    value = await gate.call(gate.processor.get_gene, gene_name)
    return _ok({"gene_name": gene_name, "gene_value": value, "processor_id": gate.processor_id})


@router.get("/percept-data")
@_documents(PerceptResponse, *_READ)
async def percept_data(request: Request) -> Response:
    gate = _gate(request)
    data = await gate.call(gate.processor.percept_data)
    return _ok({"percept_data": data, "processor_id": gate.processor_id})


@router.get("/cognition-data")
@_documents(CognitionResponse, *_READ)
async def cognition_data(request: Request) -> Response:
    gate = _gate(request)
    data = await gate.call(gate.processor.cognition_data)
    return _ok({"cognition_data": data, "processor_id": gate.processor_id})


@router.get("/state")
@_documents(StateSnapshot, *_READ)
async def get_state(request: Request) -> Response:
    """Everything the processor holds in memory (STM, time, genes, caches) for a later PUT."""
    gate = _gate(request)
    return _ok(await gate.call_slow(gate.processor.export_state))


@router.put("/state", openapi_extra=openapi_body(StateSnapshot))
@_documents(StatusMessage, *_BODY, *_WRITE)
async def put_state(request: Request) -> Response:
    """Exact restore of a ``GET /state`` snapshot; a bad snapshot → 422 and nothing changes."""
    runtime = runtime_of(request)
    body = await parse_body(request, StateSnapshot, runtime.limits, runtime.max_state_bytes)
    await runtime.gate.call_slow(runtime.gate.processor.import_state, body.model_dump())
    return _ok(runtime.gate.status_message("state-restored"))


@router.get("/metrics")
@_documents(MetricsResponse, *_READ, text=PROMETHEUS_TYPES)
async def metrics(request: Request) -> Response:
    """The spec's JSON counters; Prometheus text when the ``Accept`` header asks for it."""
    if wants_prometheus(request.headers.get("accept", "")):
        return await metrics_prometheus(request)
    gate = _gate(request)
    return _ok(await gate.call(gate.counters))


@router.get(METRICS_TEXT_PATH, response_class=PlainTextResponse)
@_documents(PrometheusText, *_READ, text=PROMETHEUS_TYPES)
async def metrics_prometheus(request: Request) -> Response:
    """Prometheus exposition regardless of ``Accept`` (OpenMetrics if preferred)."""
    runtime = runtime_of(request)
    counters = await runtime.gate.call(runtime.gate.counters)
    body, content_type = runtime.metrics.render(counters, request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
