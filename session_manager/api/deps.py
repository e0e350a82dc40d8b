"""What a route is given: the session service, its caller, and the session id of its path
once the caller may use it (`access.py`: `ReadSession`, `WriteSession`, `DeleteSession`).

Dependencies are `async def`: FastAPI runs a plain `def` dependency on its thread pool, a
thread hop on every proxied request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ..access import DeleteSession, ReadSession, WriteSession
from ..auth import Principal, principal_of
from ..sessions import SessionService

__all__ = ["Caller", "DeleteSession", "ReadSession", "Service", "WriteSession", "service_of"]


async def service_of(connection: HTTPConnection) -> SessionService:
    service: SessionService = connection.app.state.service
    return service


async def _caller(connection: HTTPConnection) -> Principal:
    return principal_of(connection)


Service = Annotated[SessionService, Depends(service_of)]
Caller = Annotated[Principal, Depends(_caller)]
