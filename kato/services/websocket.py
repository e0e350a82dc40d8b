"""WebSocket ``/ws`` (spec §7.15): one JSON reply per JSON request, under the processor lock.

Observe payloads go through the same :class:`ObservationData` model and limits as HTTP (QUIRK-10
fixed), and unknown keys are refused, in the message and in the payloads; a validation or
processor error is answered with an ``error`` message carrying the shared error object and the
socket stays open. Non-JSON input closes the socket with 1011 (as upstream).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket

from kato.processor.errors import KatoError
from kato.services.body import validate_payload
from kato.services.errors import internal_error_body, payload_too_large
from kato.services.logs import LOGGER_NAME
from kato.services.models import PredictionsQuery, WsMessage, WsObservation
from kato.services.runtime import Runtime, runtime_of

WS_INTERNAL_ERROR = 1011

router = APIRouter()
logger = logging.getLogger(LOGGER_NAME)

Reply = dict[str, Any]
Handler = Callable[[Runtime, dict[str, Any]], Awaitable[Reply]]


async def _observe(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    data = validate_payload(WsObservation, payload, runtime.limits)
    gate = runtime.gate
    return {"type": "observation_result", "data": await gate.call(gate.observe_result, data, "ws")}


async def _get_stm(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    return {"type": "stm", "data": await runtime.gate.call(runtime.gate.stm)}


async def _get_predictions(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    query = validate_payload(PredictionsQuery, payload, runtime.limits)
    gate = runtime.gate
    return {"type": "predictions", "data": await gate.call(gate.predictions, query.unique_id)}


async def _learn(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    result = await runtime.gate.call(runtime.gate.learn_result)
    del result["message"]
    return {"type": "learn_result", "data": result}


async def _clear_stm(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    await runtime.gate.call(runtime.gate.processor.clear_stm)
    return {"type": "status", "data": runtime.gate.status_message("stm-cleared")}


async def _clear_all(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    await runtime.gate.call_slow(runtime.gate.processor.clear_all)
    return {"type": "status", "data": runtime.gate.status_message("all-cleared")}


async def _ping(runtime: Runtime, payload: dict[str, Any]) -> Reply:
    return {
        "type": "pong",
        "data": {"processor_id": runtime.gate.processor_id, "timestamp": time.time()},
    }


HANDLERS: dict[str, Handler] = {
    "observe": _observe,
    "get_stm": _get_stm,
    "get_predictions": _get_predictions,
    "learn": _learn,
    "clear_stm": _clear_stm,
    "clear_all": _clear_all,
    "ping": _ping,
}


def error_reply(error: dict[str, Any]) -> Reply:
    return {"type": "error", "data": {"message": error["message"], "error": error}}


async def handle_message(runtime: Runtime, raw: Any) -> Reply:
    """The reply to one decoded message; never raises for bad input or processor errors."""
    try:
        message = validate_payload(WsMessage, raw, runtime.limits)
        handler = HANDLERS.get(message.type)
        if handler is None:
            return error_reply(
                {
                    "code": "KATO_UNKNOWN_MESSAGE_TYPE",
                    "message": f"Unknown message type: {message.type}",
                    "details": {"type": message.type},
                }
            )
        runtime.metrics.websocket_messages.labels(message.type).inc()
        return await handler(runtime, message.payload)
    except KatoError as exc:
        return error_reply(exc.to_dict()["error"])
    except Exception as exc:  # a bug must not kill the connection of a long-lived client
        logger.exception("websocket message failed")
        return error_reply(internal_error_body(exc)["error"])


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime = runtime_of(websocket)
    if not runtime.started:
        await websocket.close(code=WS_INTERNAL_ERROR)
        return
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        raw: str | bytes = text if text is not None else message.get("bytes") or b""
        if len(raw) > runtime.max_body_bytes:
            too_large = payload_too_large(len(raw), runtime.max_body_bytes)
            await _send(websocket, error_reply(too_large.to_dict()["error"]))
            continue
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await websocket.close(code=WS_INTERNAL_ERROR, reason="message is not JSON")
            return
        await _send(websocket, await handle_message(runtime, decoded))


async def _send(websocket: WebSocket, reply: Reply) -> None:
    await websocket.send_text(orjson.dumps(reply, option=orjson.OPT_NON_STR_KEYS).decode())
