"""``GET /export`` and ``PUT``/``POST /import``: a whole processor as one streamed NDJSON document.

The export is read under the processor lock as references to the processor's immutable records
(microseconds), then serialised outside the lock while it streams, so requests keep being served
and the memory is never copied. The import is parsed and validated as it arrives (in a worker
thread, off the event loop, without the lock), bounded by ``KATO_MAX_IMPORT_BYTES``; only a
complete, intact document takes the lock and replaces the memory, in one step. Format:
:mod:`kato.processor.portability`.
"""

from __future__ import annotations

import gc

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from kato.processor import KatoProcessor
from kato.processor.portability import MEDIA_TYPE, ExportReader, MemoryImage, export_chunks
from kato.services.errors import FastJSONResponse, payload_too_large
from kato.services.import_budget import import_budget
from kato.services.models import ErrorResponse, StatusMessage
from kato.services.runtime import runtime_of
from kato.web.body import bounded_stream

router = APIRouter()


class ImportResponse(StatusMessage):
    """``message`` is ``memory-imported``; the counts are those of the imported document."""

    patterns: int
    symbols: int


_FEED_BYTES = 1024 * 1024  # parse in ~1 MiB steps: one thread hop per step, not per TCP read

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        "description": "A document produced by GET /export.",
    }
}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The export document."}},
)
async def export_memory(request: Request) -> Response:
    """Every pattern, symbol statistic and total plus the ``GET /state`` snapshot, streamed."""
    gate = runtime_of(request).gate
    image = await gate.call(gate.processor.memory_image)
    return StreamingResponse(
        export_chunks(image, gate.processor_id),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{gate.processor_id}.ndjson"'},
    )


_IMPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": ImportResponse},
    **{status: {"model": ErrorResponse} for status in (401, 413, 422, 503)},
}


@router.put("/import", openapi_extra=_IMPORT_BODY, responses=_IMPORT_RESPONSES)
@router.post("/import", openapi_extra=_IMPORT_BODY, responses=_IMPORT_RESPONSES)
async def import_memory(request: Request) -> Response:
    """Replace the whole memory with an export: 422 ``KATO_INVALID_EXPORT`` for a truncated or
    damaged document, 413 above ``KATO_MAX_IMPORT_BYTES`` or above what the container's memory
    can hold (:mod:`kato.services.import_budget`); either way nothing changes."""
    runtime = runtime_of(request)
    image = await _read_export(request, import_budget(runtime.settings.max_import_bytes))
    await runtime.gate.call_slow(_replace, runtime.gate.processor, image)
    return FastJSONResponse({
        **runtime.gate.status_message("memory-imported"),
        "patterns": len(image.patterns),
        "symbols": len(image.symbols),
    })


def _replace(processor: KatoProcessor, image: MemoryImage) -> None:
    """Replace the memory, then let the collector free the old one: the lifespan froze the
    start-up heap (``gc.freeze``), and the old index is a reference cycle the collector would
    otherwise never look at again, so every import would keep the memory it replaced."""
    processor.replace_memory(image)
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def _read_export(request: Request, limit: int) -> MemoryImage:
    reader = ExportReader()
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in bounded_stream(request, limit, payload_too_large):
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= _FEED_BYTES:
            await run_in_threadpool(reader.feed, b"".join(pending))
            pending, pending_size = [], 0
    await run_in_threadpool(reader.feed, b"".join(pending))
    return await run_in_threadpool(reader.finish)
