"""Portable sessions: export a session's whole memory, import one as a new session, fork one.

All three move the processor's own export document (``GET /export`` → ``PUT /import``, format in
:mod:`kato.processor.portability`) as a stream: the manager never parses nor holds it, and the
receiving processor validates it in full before replacing anything.

- ``GET /session/{id}/export``: a hibernated session is **woken** for it (its long-term memory is
  on the container's volume and only the processor can read it), then streamed.
- ``POST /session/import``: creates a session the usual way, streams the body into it, answers
  201 with the usual session body; a refused document removes the new session again.
- ``POST /session/{id}/fork``: a new session (same user and genes unless given) with a copy of
  the source's memory; the source is only read and keeps running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated

import aiohttp
from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response, StreamingResponse
from yarl import URL

from kato import contract
from kato.web import tracing

from .access import WriteSession, new_session_owner, require_scope
from .auth import WRITE, principal_of
from .errors import PayloadTooLargeError, SessionError
from .logs import session_id_var
from .models import MAX_TTL_SECONDS, USER_ID, JsonInt, SessionView
from .processor_client import answered_error, unanswered_error
from .proxy import SESSION_PREFIXES
from .responses import error_responses, with_errors
from .sessions import Route, SessionService
from .settings import ManagerSettings

__all__ = ["IMPORT_PATH", "body_limits", "router"]

router = APIRouter(tags=["portable sessions"])

#: Under each session prefix (see api/sessions.py).
IMPORT_PATH = "/import"
MEDIA_TYPE = "application/x-ndjson"
_CHUNK = 256 * 1024


def body_limits(settings: ManagerSettings) -> Mapping[str, int]:
    """Paths whose bodies may exceed ``KATO_MAX_BODY_BYTES`` (for the request middleware)."""
    return {prefix + IMPORT_PATH: settings.max_import_bytes for prefix in SESSION_PREFIXES}


class ForkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(
        default=None, pattern=USER_ID, description="Owner (default: the source's)."
    )
    ttl_seconds: JsonInt | None = Field(
        default=None,
        ge=1,
        le=MAX_TTL_SECONDS,
        description="Delete the fork this many seconds after creation.",
    )


def _service(request: Request) -> SessionService:
    service: SessionService = request.app.state.service
    return service


def _timeout(settings: ManagerSettings) -> aiohttp.ClientTimeout:
    """No total: a large memory may take minutes; a stalled transfer still ends."""
    return aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=settings.proxy_timeout)


@router.get(
    "/{session_id}/export",
    response_class=StreamingResponse,
    responses=with_errors(
        {200: {"content": {MEDIA_TYPE: {}}, "description": "The export document."}},
        403,
        404,
        410,
        422,
        502,
        503,
        504,
    ),
)
@tracing.traced("session.export")
async def export_session(session_id: WriteSession, request: Request) -> Response:
    """The session's whole memory (wakes a hibernated session first)."""
    service = _service(request)
    route = await service.acquire(session_id)
    try:
        upstream = await _open_export(service, route)
    except BaseException:
        service.release(session_id, route)
        raise

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                yield chunk
        finally:
            upstream.release()
            service.release(session_id, route)

    return StreamingResponse(
        stream(),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{session_id}.ndjson"'},
    )


@router.post(
    IMPORT_PATH,
    status_code=201,
    responses=error_responses(403, 413, 422, 429, 502, 503, 504),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "A document from GET /session/{id}/export (or a processor's /export).",
        }
    },
)
@tracing.traced("session.import")
async def import_session(
    request: Request,
    user_id: Annotated[str | None, Query(pattern=USER_ID)] = None,
    ttl_seconds: Annotated[int | None, Query(ge=1, le=MAX_TTL_SECONDS)] = None,
) -> SessionView:
    """A new session holding the memory of the export in the body (``KATO_MAX_IMPORT_BYTES``);
    a user token's import is its `sub`'s."""
    caller = principal_of(request)
    owner = new_session_owner(caller, user_id)
    if not caller.is_operator:
        require_scope(caller, WRITE)
    service = _service(request)
    limit = service.settings.max_import_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    received = [0]

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            received[0] += len(chunk)
            if received[0] > limit:
                return  # the processor sees a truncated document and refuses it
            yield chunk

    record = await service.create(owner, {}, ttl_seconds)
    session_id_var.set(record.session_id)
    try:
        try:
            await _push(service, record.session_id, body())
        except SessionError:
            if received[0] > limit:  # the refusal was of the cut-off document
                raise _too_large(limit) from None
            raise
    except BaseException:
        await service.delete(record.session_id)
        raise
    return SessionView.of(await service.get(record.session_id))


@router.post(
    "/{session_id}/fork",
    status_code=201,
    responses=error_responses(403, 404, 410, 422, 429, 502, 503, 504),
)
@tracing.traced("session.fork")
async def fork_session(
    session_id: WriteSession, request: Request, body: Annotated[ForkRequest | None, Body()] = None
) -> SessionView:
    """A new session with a copy of this one's memory; this one keeps running untouched.
    A user token forks its own sessions, into sessions of its own."""
    body = body or ForkRequest()
    caller = principal_of(request)
    service = _service(request)
    source = await service.get(session_id)
    owner = new_session_owner(caller, body.user_id) if not caller.is_operator else None
    owner = owner or body.user_id or source.user_id
    async with service.held(session_id) as route:
        record = await service.create(owner, source.genes, body.ttl_seconds)
        try:
            upstream = await _open_export(service, route)
            try:
                await _push(service, record.session_id, upstream.content.iter_chunked(_CHUNK))
            finally:
                upstream.release()
        except BaseException:
            await service.delete(record.session_id)
            raise
    return SessionView.of(await service.get(record.session_id))


async def _open_export(service: SessionService, route: Route) -> aiohttp.ClientResponse:
    """The source container's ``GET /export`` response, headers read, body not yet."""
    try:
        response = await service.client.get(
            URL(route.internal_url).with_path(contract.EXPORT_PATH),
            headers=_auth(route),
            timeout=_timeout(service.settings),
        )
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise unanswered_error("GET /export", exc, service.settings.proxy_timeout) from exc
    if response.status != 200:
        payload = await response.read()
        response.release()
        raise answered_error("GET /export", response.status, payload)
    return response


async def _push(service: SessionService, session_id: str, data: AsyncIterator[bytes]) -> None:
    """Stream ``data`` into the session's ``PUT /import``; its refusal becomes ours."""
    route = await service.acquire(session_id)
    try:
        async with service.client.put(
            URL(route.internal_url).with_path(contract.IMPORT_PATH),
            data=data,
            headers={**_auth(route), "Content-Type": MEDIA_TYPE},
            timeout=_timeout(service.settings),
        ) as response:
            payload = await response.read()
            if response.status != 200:
                raise answered_error("PUT /import", response.status, payload)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise unanswered_error("PUT /import", exc, service.settings.proxy_timeout) from exc
    finally:
        service.release(session_id, route)


def _auth(route: Route) -> dict[str, str]:
    return {"Authorization": f"Bearer {route.token}", **tracing.outgoing_headers()}


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"request body larger than {limit} bytes", {"max_import_bytes": limit}
    )
