# GENERATED from _async/stream.py by scripts/unasync.py: edit that file, then run
# `python scripts/unasync.py` (make lint checks that this file is current).
"""The processor's WebSocket `/ws` (spec §7.15) as a context manager that sends operations and
yields typed answers: `with session.stream() as ws: ws.observe(strings=["a"])`.

`send` + `receive` (or iterating) pipelines many operations on one socket; `request` and the
named helpers send one and wait for its answer. An `error` reply raises the matching
`KatoError` and leaves the socket open, as the service does. A close by the manager carries
the error code as its reason (1008 KATO_SESSION_NOT_FOUND, 1011 when a wake failed) and is
raised as that error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, cast

import websockets.sync.client as websocket
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus

from .._calls import Target
from .._errors import KatoError, UnavailableError
from .._models import LearnResult, ObserveResult, Pong, PredictionsResult, StatusMessage, StmResult
from .._operations import observation_body
from .._ws import MAX_MESSAGE, bearer, closed, decode, encode, not_opened, ws_url

__all__ = ["ProcessorStream"]


class ProcessorStream:
    """A WebSocket to one processor (direct, or relayed by the manager for a session)."""

    def __init__(self, target: Target, open_timeout: float = 120.0) -> None:
        self._target = target
        self._open_timeout = open_timeout
        self._socket: websocket.ClientConnection | None = None

    def __enter__(self) -> ProcessorStream:
        try:
            connection = websocket.connect(
                ws_url(self._target),
                additional_headers=bearer(self._target),
                open_timeout=self._open_timeout,
                max_size=MAX_MESSAGE,
            )
            self._socket = connection.__enter__()  # websockets >= 15 wants it entered
        except (InvalidStatus, OSError, TimeoutError) as exc:
            raise not_opened(exc) from exc
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
            self._open().send(encode(type_, payload))
        except ConnectionClosed as exc:
            raise closed(exc) from exc

    def receive(self) -> Any:
        """The next answer, typed (`ObserveResult`, `StmResult`, …); raises on `error`."""
        try:
            return decode(self._open().recv())
        except ConnectionClosed as exc:
            raise closed(exc) from exc

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
        return cast(
            PredictionsResult, self.request("get_predictions", {"unique_id": unique_id})
        )

    def learn(self) -> LearnResult:
        return cast(LearnResult, self.request("learn"))

    def clear_stm(self) -> StatusMessage:
        return cast(StatusMessage, self.request("clear_stm"))

    def clear_all(self) -> StatusMessage:
        return cast(StatusMessage, self.request("clear_all"))

    def ping(self) -> Pong:
        return cast(Pong, self.request("ping"))

    def _open(self) -> websocket.ClientConnection:
        if self._socket is None:
            raise KatoError("the stream is not open: use `with ….stream() as ws:`")
        return self._socket
