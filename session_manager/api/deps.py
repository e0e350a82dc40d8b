"""What a route is given: the session service and the session id of its path.

Dependencies are `async def`: FastAPI runs a plain `def` dependency on its thread pool, a
thread hop on every proxied request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi import Path as PathParam
from starlette.requests import HTTPConnection

from ..logs import session_id_var
from ..models import SESSION_ID
from ..sessions import SessionService

__all__ = ["Service", "SessionId", "service_of"]


async def service_of(connection: HTTPConnection) -> SessionService:
    service: SessionService = connection.app.state.service
    return service


async def _session_id(
    # Not a `pattern`: an id of another format is an unknown session (404), not a 422.
    session_id: Annotated[
        str,
        PathParam(description=f"A session id as `POST /session/create` returns ({SESSION_ID})."),
    ],
) -> str:
    session_id_var.set(session_id[:64])
    return session_id


Service = Annotated[SessionService, Depends(service_of)]
SessionId = Annotated[str, Depends(_session_id)]
