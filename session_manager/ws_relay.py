"""Relay a client WebSocket to its session container's `/ws`, frame by frame, both ways.

Whichever side closes first, its close code (and reason) is passed to the other side; the
socket counts as in flight so an open connection is never hibernated, and every frame counts
as activity.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from starlette.websockets import WebSocket, WebSocketDisconnect

from container_manager import ContainerManagerError

from .errors import SessionError
from .sessions import SessionService

__all__ = ["relay"]

_NORMAL = 1000
_INTERNAL_ERROR = 1011
# Codes that must never be sent in a close frame (RFC 6455 §7.4.1).
_RESERVED = frozenset({1005, 1006, 1015})


async def relay(websocket: WebSocket, session_id: str, service: SessionService) -> None:
    try:
        route = await service.acquire(session_id)
    except SessionError as exc:
        await websocket.close(code=1008, reason=exc.code)
        return
    except ContainerManagerError as exc:  # the engine failed while waking it: 503 over HTTP
        await websocket.close(code=_INTERNAL_ERROR, reason=exc.code)
        return
    try:
        query = websocket.scope.get("query_string", b"").decode("latin-1")
        url = route.internal_url.replace("http", "ws", 1) + "/ws" + ("?" + query if query else "")
        try:
            upstream = await service.client.ws_connect(
                url,
                headers={"Authorization": f"Bearer {route.token}"},
                autoclose=False,
                max_msg_size=0,
            )
        except (TimeoutError, aiohttp.ClientError):
            await websocket.close(code=_INTERNAL_ERROR, reason="KATO_PROCESSOR_UNAVAILABLE")
            return
        await websocket.accept()
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


def _sendable(code: object) -> int:
    if not isinstance(code, int) or code in _RESERVED or code < 1000:
        return _NORMAL if code in (1005, None) else _INTERNAL_ERROR
    return code
