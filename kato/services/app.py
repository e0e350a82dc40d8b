"""Assembling the service: ``create_app(settings)`` builds one FastAPI app for one processor.

The processor (and its store) is opened in the lifespan, so importing or constructing the app
has no side effects; ``processor_factory`` is the seam unit tests use to inject a fake engine.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.middleware.cors import CORSMiddleware

from kato.processor import KatoProcessor, open_store
from kato.services import lane, portability_routes, routes, websocket
from kato.services.auth import TokenCheck
from kato.services.errors import FastJSONResponse, install_error_handlers
from kato.services.gate import ProcessorGate
from kato.services.logs import configure_logging
from kato.services.metrics import ServiceMetrics
from kato.services.middleware import ServiceMiddleware
from kato.services.models import GenesUpdate, ObserveSequenceRequest, StateSnapshot
from kato.services.runtime import Runtime
from kato.services.settings import ServiceSettings
from kato.web import tracing

ProcessorFactory = Callable[[ServiceSettings], KatoProcessor]

_SELF_PARSED_BODIES = (ObserveSequenceRequest, GenesUpdate, StateSnapshot)


def open_processor(settings: ServiceSettings) -> KatoProcessor:
    """The real engine on SQLite (``KATO_DATA_DIR``, created by the store), PostgreSQL
    (``KATO_POSTGRES_URL``) or MongoDB (``MONGO_URL``)."""
    postgres = settings.postgres_url
    store = open_store(
        settings.processor_id,
        data_dir=settings.data_dir,
        mongo_url=settings.mongo_url,
        postgres_url=postgres.get_secret_value() if postgres is not None else None,
    )
    return KatoProcessor(settings.processor_config(), store)


#: Every route of a processor (its route table: the manager serves each path at its own root
#: and under both session prefixes, see session_manager/api/root.py).
ROUTERS = (routes.router, portability_routes.router, websocket.router)


def create_app(
    settings: ServiceSettings,
    processor_factory: ProcessorFactory = open_processor,
    *,
    direct_lane: bool = True,
) -> FastAPI:
    """``direct_lane=False`` serves the hot routes the regular way too: the reference the lane's
    answers are tested against (:mod:`kato.services.lane`)."""
    logger = configure_logging(settings.log_level, settings.processor_id)
    runtime = Runtime(settings=settings, metrics=ServiceMetrics())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        processor = processor_factory(settings)
        # Everything loaded so far (the whole pattern index) lives as long as the process:
        # keep it out of the cyclic GC's full collections, which would otherwise rescan it.
        gc.collect()
        gc.freeze()
        runtime.attach(ProcessorGate(processor))
        if processor.restore_error is not None:
            logger.error(
                "stored short-term state unreadable, starting fresh",
                extra={"detail": {"error": processor.restore_error}},
            )
        logger.info(
            "processor open",
            extra={"detail": {"patterns": processor.pattern_count, "time": processor.time,
                              "stm_events": len(processor.stm)}},
        )
        try:
            yield
        finally:
            runtime.attach(None)
            processor.close()
            logger.info("processor closed")
            tracing.flush()

    app = FastAPI(
        title="KATO processor",
        description="One KATO processor: observe, learn, predict (upstream-compatible API).",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
    )
    app.state.runtime = runtime
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app, [*routes.router.routes, *app.router.routes])
    if direct_lane:  # before CORS, which then wraps the lane as it wraps every route
        lane.install(app, routes.router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Trace-ID"],
    )
    app.add_middleware(
        ServiceMiddleware,
        tokens=TokenCheck(settings.processor_token),
        metrics=runtime.metrics,
        logger=logger,
    )
    tracing.setup("kato-processor", {"service.instance.id": settings.processor_id})
    app.add_middleware(tracing.TracingMiddleware, service="processor")  # outermost
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the body models that handlers parse themselves."""
    if app.openapi_schema is None:
        routes.document_responses()
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _, extra = models_json_schema(
            [(model, "validation") for model in _SELF_PARSED_BODIES],
            ref_template="#/components/schemas/{model}",
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(extra.get("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema
