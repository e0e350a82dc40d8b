"""The processor's WebSocket `/ws` (spec §7.15) as a context manager that sends operations and
yields typed answers: `with session.stream() as ws: ws.observe(strings=["a"])`.

`send` + `receive` (or iterating) pipelines many operations on one socket; `request` and the
named helpers send one and wait for its answer. An `error` reply raises the matching
`KatoError` and leaves the socket open, as the service does. A close by the manager carries
the error code as its reason (1008 KATO_SESSION_NOT_FOUND, 1011 when a wake failed) and is
raised as that error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, cast

from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .calls import Target
from .errors import KatoError, UnavailableError, error_for, error_for_code
from .models import (
    LearnResult,
    Model,
    ObserveResult,
    Pong,
    PredictionsResult,
    StatusMessage,
    StmResult,
)
from .operations import observation_body

__all__ = ["AsyncProcessorStream", "ProcessorStream"]

#: Reply `type` → result model; other replies come back as their raw `data`.
_REPLIES: dict[str, type[Model]] = {
    "observation_result": ObserveResult,
    "stm": StmResult,
    "predictions": PredictionsResult,
    "learn_result": LearnResult,
    "status": StatusMessage,
    "pong": Pong,
}
_MAX_MESSAGE = 16 * 2**20


def _ws_url(target: Target) -> str:
    url = target.url(("ws",))
    return str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))


def _encode(type_: str, payload: Mapping[str, Any] | None) -> str:
    return json.dumps({"type": type_, "payload": dict(payload or {})})


def _decode(raw: str | bytes) -> Any:
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


def _closed(exc: ConnectionClosed) -> KatoError:
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


def _bearer(target: Target) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.bearer}"} if target.bearer else {}


def _not_opened(exc: Exception) -> KatoError:
    if isinstance(exc, InvalidStatus):
        response = exc.response
        return error_for(response.status_code, bytes(response.body or b""), dict(response.headers))
    return UnavailableError(f"cannot open the socket: {exc}", code="KATO_CONNECTION_FAILED")


class ProcessorStream:
    """A WebSocket to one processor (direct, or relayed by the manager for a session)."""

    def __init__(self, target: Target, open_timeout: float = 120.0) -> None:
        self._target = target
        self._open_timeout = open_timeout
        self._socket: ClientConnection | None = None

    def __enter__(self) -> ProcessorStream:
        try:
            connection = connect(
                _ws_url(self._target),
                additional_headers=_bearer(self._target),
                open_timeout=self._open_timeout,
                max_size=_MAX_MESSAGE,
            )
            self._socket = connection.__enter__()  # websockets >= 15 wants it entered
        except (InvalidStatus, OSError, TimeoutError) as exc:
            raise _not_opened(exc) from exc
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def send(self, type_: str, payload: Mapping[str, Any] | None = None) -> None:
        """Send one operation (`observe`, `get_stm`, `get_predictions`, `learn`, `clear_stm`,
        `clear_all`, `ping`) without waiting for its answer."""
        try:
            self._open().send(_encode(type_, payload))
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    def receive(self) -> Any:
        """The next answer, typed (`ObserveResult`, `StmResult`, …); raises on `error`."""
        try:
            return _decode(self._open().recv())
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    def request(self, type_: str, payload: Mapping[str, Any] | None = None) -> Any:
        self.send(type_, payload)
        return self.receive()

    def __iter__(self) -> Iterator[Any]:
        """Answers as they come, until the socket closes normally."""
        while True:
            try:
                yield self.receive()
            except UnavailableError as exc:
                if isinstance(exc.__cause__, ConnectionClosedOK):
                    return
                raise

    def observe(
        self,
        strings: Sequence[str] | None = None,
        vectors: Sequence[Sequence[float]] | None = None,
        emotives: Mapping[str, float] | None = None,
        unique_id: str | None = None,
    ) -> ObserveResult:
        return cast(
            ObserveResult,
            self.request("observe", observation_body(strings, vectors, emotives, unique_id)),
        )

    def stm(self) -> StmResult:
        return cast(StmResult, self.request("get_stm"))

    def predictions(self, unique_id: str | None = None) -> PredictionsResult:
        return cast(PredictionsResult, self.request("get_predictions", {"unique_id": unique_id}))

    def learn(self) -> LearnResult:
        return cast(LearnResult, self.request("learn"))

    def clear_stm(self) -> StatusMessage:
        return cast(StatusMessage, self.request("clear_stm"))

    def clear_all(self) -> StatusMessage:
        return cast(StatusMessage, self.request("clear_all"))

    def ping(self) -> Pong:
        return cast(Pong, self.request("ping"))

    def _open(self) -> ClientConnection:
        if self._socket is None:
            raise KatoError("the stream is not open: use `with ….stream() as ws:`")
        return self._socket


class AsyncProcessorStream:
    """The async twin of `ProcessorStream`: `async with session.stream() as ws:`."""

    def __init__(self, target: Target, open_timeout: float = 120.0) -> None:
        self._target = target
        self._open_timeout = open_timeout
        self._socket: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncProcessorStream:
        try:
            self._socket = await async_connect(
                _ws_url(self._target),
                additional_headers=_bearer(self._target),
                open_timeout=self._open_timeout,
                max_size=_MAX_MESSAGE,
            )
        except (InvalidStatus, OSError, TimeoutError) as exc:
            raise _not_opened(exc) from exc
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._socket = None

    async def send(self, type_: str, payload: Mapping[str, Any] | None = None) -> None:
        try:
            await self._open().send(_encode(type_, payload))
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    async def receive(self) -> Any:
        try:
            return _decode(await self._open().recv())
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    async def request(self, type_: str, payload: Mapping[str, Any] | None = None) -> Any:
        await self.send(type_, payload)
        return await self.receive()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.receive()
            except UnavailableError as exc:
                if isinstance(exc.__cause__, ConnectionClosedOK):
                    return
                raise

    async def observe(
        self,
        strings: Sequence[str] | None = None,
        vectors: Sequence[Sequence[float]] | None = None,
        emotives: Mapping[str, float] | None = None,
        unique_id: str | None = None,
    ) -> ObserveResult:
        return cast(
            ObserveResult,
            await self.request("observe", observation_body(strings, vectors, emotives, unique_id)),
        )

    async def stm(self) -> StmResult:
        return cast(StmResult, await self.request("get_stm"))

    async def predictions(self, unique_id: str | None = None) -> PredictionsResult:
        return cast(
            PredictionsResult, await self.request("get_predictions", {"unique_id": unique_id})
        )

    async def learn(self) -> LearnResult:
        return cast(LearnResult, await self.request("learn"))

    async def clear_stm(self) -> StatusMessage:
        return cast(StatusMessage, await self.request("clear_stm"))

    async def clear_all(self) -> StatusMessage:
        return cast(StatusMessage, await self.request("clear_all"))

    async def ping(self) -> Pong:
        return cast(Pong, await self.request("ping"))

    def _open(self) -> AsyncConnection:
        if self._socket is None:
            raise KatoError("the stream is not open: use `async with ….stream() as ws:`")
        return self._socket
