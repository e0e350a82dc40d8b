"""The wire format of the processor's WebSocket `/ws` (spec §7.15), shared by the two
`ProcessorStream`s (`_async/stream.py` and the sync one generated from it): JSON messages
in, typed answers or the matching `KatoError` out, and what a close frame means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus

from ._calls import Target
from ._errors import KatoError, UnavailableError, error_for, error_for_code
from ._models import (
    LearnResult,
    Model,
    ObserveResult,
    Pong,
    PredictionsResult,
    StatusMessage,
    StmResult,
)
from ._trace import trace_headers

__all__ = ["MAX_MESSAGE", "bearer", "closed", "decode", "encode", "not_opened", "ws_url"]

#: Reply `type` → result model; other replies come back as their raw `data`.
_REPLIES: dict[str, type[Model]] = {
    "observation_result": ObserveResult,
    "stm": StmResult,
    "predictions": PredictionsResult,
    "learn_result": LearnResult,
    "status": StatusMessage,
    "pong": Pong,
}
MAX_MESSAGE = 16 * 2**20


def ws_url(target: Target) -> str:
    url = target.url(("ws",))
    return str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))


def encode(type_: str, payload: Mapping[str, Any] | None) -> str:
    return json.dumps({"type": type_, "payload": dict(payload or {})})


def decode(raw: str | bytes) -> Any:
    message = json.loads(raw)
    kind, data = message.get("type"), message.get("data")
    if kind == "error":
        error = (data or {}).get("error") or {}
        raised = error_for_code(
            str(error.get("code", "KATO_ERROR")), str(error.get("message", "")), default=KatoError
        )
        raised.details = dict(error.get("details") or {})
        raise raised
    model = _REPLIES.get(str(kind))
    return model.from_dict(data) if model is not None else data


def closed(exc: ConnectionClosed) -> KatoError:
    """The error a close frame stands for: its reason is the `KATO_…` code, and a code of
    4000 + N means what HTTP status N means (the manager's convention)."""
    code = exc.rcvd.code if exc.rcvd else 1006
    reason = exc.rcvd.reason if exc.rcvd else ""
    status = code - 4000 if 4000 <= code < 5000 else None
    if reason.startswith("KATO_") or status is not None:
        return error_for_code(
            reason or "KATO_CONNECTION_CLOSED",
            f"socket closed ({code})",
            default=UnavailableError,
            status=status,
        )
    return UnavailableError(f"socket closed ({code} {reason})", code="KATO_CONNECTION_CLOSED")


def bearer(target: Target) -> dict[str, str]:
    """The handshake's headers: the credential, and the caller's trace context (`_trace`)."""
    auth = {"Authorization": f"Bearer {target.bearer}"} if target.bearer else {}
    return {**trace_headers(), **auth}


def not_opened(exc: Exception) -> KatoError:
    if isinstance(exc, InvalidStatus):
        response = exc.response
        return error_for(response.status_code, bytes(response.body or b""), dict(response.headers))
    return UnavailableError(f"cannot open the socket: {exc}", code="KATO_CONNECTION_FAILED")
