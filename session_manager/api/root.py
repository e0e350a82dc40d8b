"""v1 at the manager's root: a KATO client pointed at the manager works unchanged.

Every path of the processor's route table (`kato.services.app.ROUTERS`: `POST /observe`,
`GET /stm`, `POST /learn`, `GET /predictions`, …, and the `/ws` socket) is served at the
manager's root too, for the session the request names in `X-Session-ID`, else for the
caller's default session (`default_sessions.py`, made on first use). Precedence: a path and
method the manager serves itself keeps its meaning (`/health`, `/health/live|ready|startup`,
`/metrics`: reach the processor's at `/session/{id}/…`); every other processor path is the
session's. The answer names the session that served it in `X-Session-ID`; an `X-Session-ID`
that is not a session id, or names an unknown session, is a 404 (a deleted default session is
replaced by a new one instead). A user token's root requests need `sessions:write`; without
`X-Session-ID` they go to its `sid` session when it has one, else to its own default session
(owned by its `sub`, `default_of` = `user:<sub>`); another user's session is a 404.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.websockets import WebSocket

from kato.services.app import ROUTERS
from kato.web.route_table import route_table

from ..access import authorize_session, require_scope
from ..auth import WRITE, principal_of
from ..default_sessions import DefaultSessions, caller_of
from ..errors import SessionNotFoundError
from ..logs import session_id_var
from ..models import is_session_id
from ..proxy import forward, raw_path
from ..sessions import SessionService
from ..ws_relay import relay
from .deps import service_of
from .sessions import PROXIED

__all__ = ["HEADER", "TAG", "include", "processor_paths"]

#: Names the session a root request is for (the v2 architecture's explicit routing).
HEADER = "x-session-id"
#: The OpenAPI tag of the root routes.
TAG = "v1 at the root"


def processor_paths() -> Iterator[tuple[str, frozenset[str]]]:
    """(path template, methods) of every HTTP route of a processor; `/ws` has no methods."""
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield route.path, frozenset(route.methods or ())
            elif isinstance(route, APIWebSocketRoute):
                yield route.path, frozenset()


def include(app: FastAPI) -> None:
    """A root route for each processor path and method the manager does not serve itself."""
    served = _served(app.router.routes)
    for path, methods in processor_paths():
        if not methods:
            app.add_api_websocket_route(path, root_ws)
            continue
        for method in sorted(methods - served.get(path, set())):
            app.add_api_route(
                path,
                root_proxy,
                methods=[method],
                name=f"root_{method.lower()}_{path.strip('/').replace('/', '_')}",
                response_class=Response,
                responses=PROXIED,
                tags=[TAG],
                description=f"The processor's `{method} {path}` for the session named in "
                "`X-Session-ID`, else the caller's default session.",
            )


def _served(routes: list[BaseRoute]) -> dict[str, set[str]]:
    """Path template -> the methods the manager serves there itself."""
    served: dict[str, set[str]] = {}
    for entry in route_table(routes):
        served.setdefault(entry.path, set()).update(entry.methods)
    return served


async def root_proxy(request: Request) -> Response:
    service = await service_of(request)
    session_id = await _target(request, service)
    answer = await forward(request, session_id, raw_path(request.scope), service)
    answer.headers[HEADER] = session_id
    return answer


async def root_ws(websocket: WebSocket) -> None:
    service = await service_of(websocket)

    async def target() -> str:
        return await _target(websocket, service)

    await relay(websocket, service, target)


async def _target(connection: HTTPConnection, service: SessionService) -> str:
    """The id of the session a root request is for."""
    principal = principal_of(connection)
    given = connection.headers.get(HEADER) or principal.session_id
    if given is not None:
        session_id_var.set(given[:64])
        if not is_session_id(given):
            raise SessionNotFoundError.unknown(given)
        await authorize_session(connection, given, WRITE)
        return given
    if not principal.is_operator:
        require_scope(principal, WRITE)
    defaults: DefaultSessions = connection.app.state.default_sessions
    caller, owner = caller_of(principal.subject), principal.subject
    session_id = await defaults.session_id(caller, owner)
    if session_id not in service.routes:  # not running: check it still exists
        try:
            await service.get(session_id)
        except SessionNotFoundError:  # deleted or expired since: a new one
            defaults.forget(caller, session_id)
            session_id = await defaults.session_id(caller, owner)
    session_id_var.set(session_id)
    return session_id
