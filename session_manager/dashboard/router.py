"""`GET /dashboard`: the operator's page, its assets, its login and its JSON API.

Everything the page needs ships in this package (`static/`), so it works offline and behind a
firewall. The page polls `GET /dashboard/api/overview` every two seconds (the machine and one
page of sessions, filtered and paged in the registry's query: at 10,000 sessions the whole list
took 175 ms to answer, bench/scale.py) and, when the manager serves `GET /events`
(KATO_EVENTS_STREAM, the setting that also mounts it), listens to the lifecycle events of the
types the overview lists; actions use the sessions API itself (`POST /session/{id}/hibernate`,
`DELETE /session/{id}`) with the login cookie.
"""

from __future__ import annotations

import functools
import hmac
import time
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..access import OperatorOnly
from ..errors import UnauthorizedError
from ..events import EVENT_TYPES
from ..paging import CURSOR, DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, decode_cursor, encode_cursor
from ..registry import SessionStatus
from ..sessions import SessionService
from .cookie import COOKIE_NAME, COOKIE_SCOPE_KEY, cookie_value
from .models import AuthState, Login, MachineView, Overview, PoolView, SessionRow
from .sampler import SAMPLE_INTERVAL, Sampler, sampler_lifespan

__all__ = ["router"]

router = APIRouter(prefix="/dashboard", lifespan=sampler_lifespan, include_in_schema=False)

_ASSETS = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


@router.get("")
async def page() -> Response:
    html = _static("index.html")
    return Response(html, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.get("/docs")
async def processor_docs() -> Response:
    """One session's processor API (`?session=<id>`), rendered offline from its OpenAPI
    schema; the processor's own `/docs` loads Swagger UI from a CDN and its schema from `/`."""
    html = _static("docs.html")
    return Response(html, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    """Only the files listed in `_ASSETS`: a name is a key, never a path."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(_static(name), media_type=media_type, headers=_PAGE_HEADERS)


@router.get("/api/auth")
async def auth_state(request: Request) -> AuthState:
    """Whether the page must ask for the key, without a 401 in the browser's console."""
    api_key = _service(request).settings.api_key
    if api_key is None:
        return AuthState(required=False, authenticated=True)
    presented = request.scope.get(COOKIE_SCOPE_KEY) or b""
    return AuthState(
        required=True,
        authenticated=hmac.compare_digest(presented, cookie_value(api_key).encode()),
    )


@router.post("/login", status_code=204)
async def login(body: Login, request: Request) -> Response:
    """Check the key and keep it (as an HMAC, see `cookie`) in an HttpOnly, SameSite=Strict
    cookie; the key travels in the body, never in the URL."""
    api_key = _service(request).settings.api_key
    response = Response(status_code=204)
    if api_key is None:
        return response
    if not hmac.compare_digest(body.api_key.encode(), api_key.encode()):
        raise UnauthorizedError("wrong API key")
    response.set_cookie(
        COOKIE_NAME,
        cookie_value(api_key),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", status_code=204)
async def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.get("/api/overview", dependencies=[OperatorOnly])
async def overview(
    request: Request,
    user: Annotated[str | None, Query(max_length=200)] = None,
    status: SessionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR, pattern=CURSOR)] = None,
) -> Response:
    """The machine and one page of sessions: `user` is a part of the user id (the page's
    search box), `status` one status; `next_cursor` and `total` (every session) let the page
    offer the next page."""
    service = _service(request)
    sampler: Sampler = request.app.state.dashboard_sampler
    registry = service.registry
    after = decode_cursor(cursor) if cursor is not None else None
    records, next_key = await registry.call(
        functools.partial(
            registry.page, limit, after, status=status, user_contains=user and user.strip()
        )
    )
    counts = await registry.call(registry.count_by_status)
    body = Overview(
        now=time.time(),
        sessions=[
            SessionRow(
                session_id=record.session_id,
                processor_id=record.processor_id,
                user_id=record.user_id,
                status=record.status,
                created_at=record.created_at,
                last_activity=service.last_activity(record),
                memory_bytes=sampler.memory.get(record.session_id),
            )
            for record in records
        ],
        next_cursor=encode_cursor(next_key) if next_key is not None else None,
        total=sum(counts.values()),
        machine=MachineView(
            running=len(service.routes),
            max_sessions=service.settings.max_sessions,
            spawning=service.running_count() - len(service.routes),
            pool=PoolView(
                desired=service.pool.desired,
                ready=len(service.pool.ready),
                starting=service.pool.starting,
            ),
            engine=sampler.engine,
        ),
        series=sampler.ring.points(),
        sample_interval=SAMPLE_INTERVAL,
        events=service.settings.events_stream,
        event_types=list(EVENT_TYPES) if service.settings.events_stream else [],
    )
    return Response(
        body.model_dump_json(), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _service(request: Request) -> SessionService:
    service: SessionService = request.app.state.service
    return service
