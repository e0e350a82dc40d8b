"""The session routes, written once and served under both prefixes.

| v1 | v2 |
| --- | --- |
| `POST /session/create` | `POST /v2/sessions` |
| `GET /sessions` | `GET /v2/sessions` |
| `GET`, `DELETE /session/{id}` | `GET`, `DELETE /v2/sessions/{id}` |
| `POST /session/{id}/hibernate`, `GET …/export`, `POST …/fork` | under `/v2/sessions/{id}` |
| `POST /session/import` | `POST /v2/sessions/import` |
| `/session/{id}/ws`, every processor path `/session/{id}/{path}` | under `/v2/sessions/{id}` |

Each pair is one endpoint function registered at two paths: same body, answer, auth, limits
and wake-on-traffic. Within a prefix the manager's own session paths come before the proxy's
catch-all, which would take them.
"""

from __future__ import annotations

import functools
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response
from starlette.websockets import WebSocket

from .. import hibernation, portability
from ..access import authorize_session, listing_owner, new_session_owner, session_visible
from ..auth import WRITE
from ..genes import check_limits
from ..logs import session_id_var
from ..models import USER_ID, CreateSessionRequest, SessionList, SessionView
from ..paging import CURSOR, DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, decode_cursor, encode_cursor
from ..proxy import SESSION_PREFIXES, V1_PREFIX, V2_PREFIX, forward, raw_path, split_session_path
from ..registry import SessionStatus
from ..responses import error_responses, with_errors
from ..ws_relay import relay
from .deps import Caller, DeleteSession, ReadSession, Service, WriteSession, service_of

__all__ = ["include"]

log = logging.getLogger("session_manager.app")

# HEAD arrives as GET (see `HeadAsGet`).
PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: A proxied answer is the processor's, in whatever type it has (JSON, Prometheus text, …).
ANY_MEDIA: dict[str, Any] = {"*/*": {}}
PROXIED = with_errors(
    {
        200: {"description": "The processor's answer, as it is.", "content": ANY_MEDIA},
        "default": {"description": "The processor's answer, passed through.", "content": ANY_MEDIA},
    },
    403,
    404,
    410,
    422,
    502,
    503,
    504,
)


async def create_session(
    service: Service, caller: Caller, body: Annotated[CreateSessionRequest | None, Body()] = None
) -> SessionView:
    """Every field is optional, so is the body: `curl -XPOST …/session/create` works.
    The answer is one of the two places the session's container token appears. A user
    token's session is its `sub`'s (another `user_id` is a 403)."""
    body = body or CreateSessionRequest()
    owner = new_session_owner(caller, body.user_id)
    check_limits(body.genes, service.containers.settings)  # before anything is recorded
    record = await service.create(owner, body.genes.as_config(), body.ttl_seconds)
    session_id_var.set(record.session_id)
    log.info("session created", extra={"processor_id": record.processor_id})
    return SessionView.of(record)


async def list_sessions(
    service: Service,
    caller: Caller,
    user_id: Annotated[str | None, Query(max_length=200, pattern=USER_ID)] = None,
    status: Annotated[
        SessionStatus | None, Query(description="Only sessions of this status.")
    ] = None,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description=f"Sessions per page (at most {MAX_LIMIT})."),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            pattern=CURSOR,
            description="The `next_cursor` of the previous page, unchanged.",
        ),
    ] = None,
) -> SessionList:
    """One page of the sessions (or one user's, or one status's), oldest first; tokens are
    never listed. Without `limit` a page holds up to 100: follow `next_cursor` (null on the
    last page) for the rest. A user token lists its own sessions only (its `sid` session
    only, with one), filtered in the query, so its pages are never short for it."""
    owner = listing_owner(caller, user_id)
    after = decode_cursor(cursor) if cursor is not None else None
    only = None if caller.is_operator else caller.session_id
    registry = service.registry
    records, next_key = await registry.call(
        functools.partial(
            registry.page, limit, after, user_id=owner, status=status, session_id=only
        )
    )
    records = [r for r in records if session_visible(caller, r.session_id, r.user_id)]
    next_cursor = encode_cursor(next_key) if next_key is not None else None
    return SessionList.of([(r, service.last_activity(r)) for r in records], next_cursor)


items = APIRouter()


@items.get("/{session_id}", responses=error_responses(403, 404, 410, 422))
async def get_session(service: Service, session_id: ReadSession) -> SessionView:
    """One session, with its container token while it runs."""
    record = await service.get(session_id)
    return SessionView.of(record, service.last_activity(record))


@items.delete("/{session_id}", status_code=204, responses=error_responses(403, 404, 410, 422, 503))
async def delete_session(service: Service, session_id: DeleteSession) -> Response:
    """Remove the session, its container and its data volume."""
    await service.delete(session_id)
    return Response(status_code=204)


@items.websocket("/{session_id}/ws")
async def session_ws(websocket: WebSocket, session_id: str) -> None:
    session_id_var.set(session_id[:64])

    async def target() -> str:  # routed on the raw id segment (`session_id` is decoded)
        raw_id = split_session_path(raw_path(websocket.scope))[0]
        await authorize_session(websocket, raw_id, WRITE)
        return raw_id

    await relay(websocket, await service_of(websocket), target)


async def proxy(
    request: Request,
    service: Service,
    session_id: WriteSession,
    path: Annotated[str, PathParam(description="The processor's own path, e.g. `observe`.")],
) -> Response:
    """Any processor route of the session's container (woken first if it hibernates)."""
    # Routed on the raw path: the `session_id` and `path` parameters are decoded.
    session_id, upstream = split_session_path(raw_path(request.scope))
    return await forward(request, session_id, upstream, service)


for method in PROXY_METHODS:  # one route per method: one OpenAPI operation id each
    items.add_api_route(
        "/{session_id}/{path:path}",
        proxy,
        methods=[method],
        name=f"proxy_{method.lower()}",
        response_class=Response,
        responses=PROXIED,
    )


def include(app: FastAPI) -> None:
    """Both prefixes, each with its collection routes, then its item routes."""
    assert SESSION_PREFIXES == (V1_PREFIX, V2_PREFIX)
    for prefix, create_path, list_path, tag in (
        (V1_PREFIX, f"{V1_PREFIX}/create", "/sessions", "sessions"),
        (V2_PREFIX, V2_PREFIX, V2_PREFIX, "sessions (v2)"),
    ):
        app.add_api_route(
            create_path,
            create_session,
            methods=["POST"],
            status_code=201,
            responses=error_responses(403, 422, 429, 502, 503),
            tags=[tag],
        )
        app.add_api_route(
            list_path,
            list_sessions,
            methods=["GET"],
            responses=error_responses(403, 422),
            tags=[tag],
        )
        for router in (hibernation.router, portability.router, items):
            app.include_router(router, prefix=prefix, tags=[tag])
