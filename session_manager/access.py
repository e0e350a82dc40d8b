"""What a caller may do: the scope each route needs, and whose sessions a user sees.

The operator (`KATO_API_KEY`, or anyone when no key is set) may do everything. A user token
(`auth.py`) sees only the sessions whose `user_id` is its `sub` (and, with a `sid` claim, only
that one): any other session is answered exactly as an unknown one, a 404 (an expired one
too, since the manager no longer knows whose it was), on every route, so ids never leak.
`session_visible` is that rule; every route with a session id reaches it through the
`ReadSession` / `WriteSession` / `DeleteSession` dependencies, the WebSocket and root routes
through `authorize_session`.

| scope | routes |
| --- | --- |
| `sessions:create` | `POST /session/create`, `POST …/import`, `POST …/{id}/fork` (the new one) |
| `sessions:read` | `GET /sessions`, `GET /session/{id}`, `GET /events` |
| `sessions:write` | every processor path (HTTP, `/ws`, root routes), `POST …/hibernate`, |
| | `GET …/export`, `POST …/fork` (the source), `POST …/import` |
| `sessions:delete` | `DELETE /session/{id}` |
| operator only | `/metrics`, `/metrics/processors`, `/dashboard/api/…` |

Both prefixes (`/session/…`, `/v2/sessions/…`) are the same routes. A missing scope is a 403
`KATO_FORBIDDEN` (it says nothing about any session), as are a create for another `user_id`
and a create with a `sid`-limited token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from fastapi import Path as PathParam
from starlette.requests import HTTPConnection

from .auth import CREATE, DELETE, READ, WRITE, Principal, principal_of
from .errors import ForbiddenError, SessionNotFoundError
from .logs import session_id_var
from .models import SESSION_ID

if TYPE_CHECKING:  # sessions.py imports events.py, which imports this module
    from .sessions import SessionService

__all__ = [
    "DeleteSession",
    "OperatorOnly",
    "ReadSession",
    "WriteSession",
    "authorize_session",
    "listing_owner",
    "new_session_owner",
    "require_operator",
    "require_scope",
    "session_visible",
]


def require_scope(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise ForbiddenError(f"the token's scope lacks {scope}", {"scope": scope})


def session_visible(principal: Principal, session_id: str, owner: str | None) -> bool:
    """Whether `principal` may know of the session `session_id` owned by `owner`."""
    if principal.is_operator:
        return True
    return (
        principal.kind == "user"
        and owner == principal.subject
        and principal.session_id in (None, session_id)
    )


async def authorize_session(connection: HTTPConnection, session_id: str, scope: str) -> None:
    """Refuse (403 for the scope, else 404) unless the caller may use `session_id` so."""
    principal = principal_of(connection)
    if principal.is_operator:
        return
    require_scope(principal, scope)
    service: SessionService = connection.app.state.service
    owner: str | None = None
    if principal.session_id in (None, session_id):
        with contextlib.suppress(SessionNotFoundError):  # expired too: whose is not known
            owner = await service.owner_of(session_id)
    if owner is None or not session_visible(principal, session_id, owner):
        raise SessionNotFoundError.unknown(session_id)


def new_session_owner(principal: Principal, user_id: str | None) -> str | None:
    """The owner of a session `principal` creates for `user_id` (a user's own: its `sub`)."""
    if principal.is_operator:
        return user_id
    require_scope(principal, CREATE)
    if principal.session_id is not None:
        raise ForbiddenError("a token limited to one session (sid) cannot create sessions")
    if user_id not in (None, principal.subject):
        raise ForbiddenError("a user token creates sessions for its own sub only")
    return principal.subject


def listing_owner(principal: Principal, user_id: str | None) -> str | None:
    """Whose sessions `GET /sessions?user_id=` lists for `principal` (None: everyone's)."""
    if principal.is_operator:
        return user_id
    require_scope(principal, READ)
    if user_id not in (None, principal.subject):
        raise ForbiddenError("a user token lists its own sessions only")
    return principal.subject


async def require_operator(connection: HTTPConnection) -> None:
    """For the operator's routes (metrics, the dashboard's API)."""
    if not principal_of(connection).is_operator:
        raise ForbiddenError("an operator route: the API key is needed")


def _owned(scope: str) -> Callable[[HTTPConnection, str], Awaitable[str]]:
    async def session_id_of(
        connection: HTTPConnection,
        # Not a `pattern`: an id of another format is an unknown session (404), not a 422.
        session_id: Annotated[
            str,
            PathParam(
                description=f"A session id as `POST /session/create` returns ({SESSION_ID})."
            ),
        ],
    ) -> str:
        session_id_var.set(session_id[:64])
        await authorize_session(connection, session_id, scope)
        return session_id

    return session_id_of


#: The path's session id, once the caller is known to hold the scope and to see the session.
ReadSession = Annotated[str, Depends(_owned(READ))]
WriteSession = Annotated[str, Depends(_owned(WRITE))]
DeleteSession = Annotated[str, Depends(_owned(DELETE))]
OperatorOnly = Depends(require_operator)
