"""`POST /session/{id}/hibernate`: an operator's "hibernate now" (the dashboard's button).

The reaper hibernates sessions idle past `KATO_IDLE_TIMEOUT`; this does the same at once, with
the same guarantees (snapshot saved before the container goes, volume kept, next request wakes
it). It is registered before the proxy's catch-all route, which would otherwise forward the
path to the processor (the processor has no `/hibernate`, see the spec's section 7).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from .access import WriteSession
from .errors import SessionError
from .models import SessionView
from .responses import error_responses
from .sessions import SessionService

__all__ = ["router"]

router = APIRouter()


@router.post("/{session_id}/hibernate", responses=error_responses(403, 404, 409, 410, 422, 503))
async def hibernate_now(session_id: WriteSession, request: Request) -> SessionView:
    """Hibernate a running session now; a hibernated one is answered as is (idempotent).

    409 `KATO_SESSION_BUSY` when a request or WebSocket is in flight, or the session is not
    running (starting, stopped): nothing is changed then.
    """
    service: SessionService = request.app.state.service
    record = await service.get(session_id)
    if record.status != "hibernated" and not await service.hibernate(session_id, force=True):
        current = await service.get(session_id)
        if current.status != "hibernated":
            raise SessionError(
                f"session {session_id} cannot be hibernated now",
                {"session_id": session_id, "status": current.status},
                status=409,
                code="KATO_SESSION_BUSY",
            )
    return SessionView.of(await service.get(session_id))
