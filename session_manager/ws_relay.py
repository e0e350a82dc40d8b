"""Relay a client WebSocket to its session container's `/ws`, frame by frame, both ways.

Whichever side closes first, its close code (and reason) is passed to the other side; the
socket counts as in flight so an open connection is never hibernated, and every frame counts
as activity.

A socket that cannot be relayed is accepted and then closed, so browsers see why: an unknown
session closes with 4404, other manager errors with 4000 + their HTTP status (4503 capacity,
4502/4504 container unreachable or too slow), an engine failure with 1011 (a container that
could not be started included, see `engine_errors`); the reason is the `KATO_…` error code.
A browser that offers the `kato` subprotocol gets it back (the API key travels as
`kato.bearer.<key>`, see the middleware; it is never echoed).

Rate limits (`limits.py`) count the open and then each message the client sends: one over
a limit closes the socket with 4429 `KATO_RATE_LIMITED` (both sides).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aiohttp
from starlette.websockets import WebSocket, WebSocketDisconnect

from kato.contract import WS_PATH
from kato.web import tracing

from .auth import principal_of
from .engine_errors import EngineFailureError, translated
from .errors import RateLimitedError, SessionError
from .limits import RateLimits
from .proxy import upstream_url
from .sessions import SessionService

__all__ = ["relay"]

_NORMAL = 1000
#: Close codes for manager errors: 4000 + the HTTP status the same error has over HTTP.
_HTTP_STATUS_BASE = 4000
#: The subprotocol echoed to clients that offer it (never the `kato.bearer.<key>` one).
SUBPROTOCOL = "kato"
_INTERNAL_ERROR = 1011
_RATE_LIMITED = _HTTP_STATUS_BASE + 429
# Codes that must never be sent in a close frame (RFC 6455 §7.4.1).
_RESERVED = frozenset({1005, 1006, 1015})


async def relay(
    websocket: WebSocket, service: SessionService, target: Callable[[], Awaitable[str]]
) -> None:
    """Relay `websocket` to the `/ws` of the session `target` names (an unknown one, or one
    that cannot be woken, is refused as the module says)."""
    try:
        with translated():
            session_id = await target()
            route = await service.acquire(session_id)
    except SessionError as exc:
        await _refuse(websocket, _close_code(exc), exc.code)
        return
    try:
        query = websocket.scope.get("query_string", b"").decode("latin-1")
        url = upstream_url(route.internal_url, WS_PATH, query)
        url = url.with_scheme("wss" if url.scheme == "https" else "ws")
        try:
            upstream = await service.client.ws_connect(
                url,
                headers={"Authorization": f"Bearer {route.token}", **tracing.outgoing_headers()},
                autoclose=False,
                max_msg_size=0,
            )
        except (TimeoutError, aiohttp.ClientError):
            await _refuse(websocket, _INTERNAL_ERROR, "KATO_PROCESSOR_UNAVAILABLE")
            return
        await websocket.accept(subprotocol=_subprotocol(websocket))
        async with upstream:
            await _pump_both(websocket, upstream, session_id, service)
    finally:
        service.release(session_id, route)


async def _pump_both(
    websocket: WebSocket,
    upstream: aiohttp.ClientWebSocketResponse,
    session_id: str,
    service: SessionService,
) -> None:
    tasks = [
        asyncio.create_task(_client_to_upstream(websocket, upstream, session_id, service)),
        asyncio.create_task(_upstream_to_client(websocket, upstream, session_id, service)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _client_to_upstream(
    websocket: WebSocket,
    upstream: aiohttp.ClientWebSocketResponse,
    session_id: str,
    service: SessionService,
) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=_sendable(message.get("code", _NORMAL)))
            return
        try:
            _count_message(websocket, session_id)
        except RateLimitedError as exc:  # the client first: it must see why
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.close(code=_RATE_LIMITED, reason=exc.code)
            await upstream.close(code=_NORMAL)
            return
        service.touch(session_id)
        if message.get("text") is not None:
            await upstream.send_str(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send_bytes(message["bytes"])


async def _upstream_to_client(
    websocket: WebSocket,
    upstream: aiohttp.ClientWebSocketResponse,
    session_id: str,
    service: SessionService,
) -> None:
    while True:
        message = await upstream.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            service.touch(session_id)
            await websocket.send_text(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            service.touch(session_id)
            await websocket.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.CLOSE:
            code = _sendable(message.data)
            await upstream.close(code=code)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.close(code=code, reason=message.extra or "")
            return
        else:  # CLOSING, CLOSED, ERROR: the container went away without a close frame
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.close(code=_INTERNAL_ERROR)
            return


def _count_message(websocket: WebSocket, session_id: str) -> None:
    limits: RateLimits | None = getattr(websocket.app.state, "rate_limits", None)
    if limits is not None and limits.enabled:
        limits.take(principal_of(websocket).subject, session_id)


def _close_code(exc: SessionError) -> int:
    """The engine failed (waking the session): 1011, as when its container goes away."""
    if isinstance(exc, EngineFailureError):
        return _INTERNAL_ERROR
    return _HTTP_STATUS_BASE + exc.status


def _subprotocol(websocket: WebSocket) -> str | None:
    return SUBPROTOCOL if SUBPROTOCOL in websocket.scope.get("subprotocols", ()) else None


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept(subprotocol=_subprotocol(websocket))
    await websocket.close(code=code, reason=reason)


def _sendable(code: object) -> int:
    if not isinstance(code, int) or code in _RESERVED or code < 1000:
        return _NORMAL if code in (1005, None) else _INTERNAL_ERROR
    return code
