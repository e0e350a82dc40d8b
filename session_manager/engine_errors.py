"""Container-manager errors as the sessions API answers them: translated here, once.

`ContainerManagerError` says what went wrong with the engine (its tree is drawn at the top of
container_manager/errors.py); what a client sees of it is decided by the one table below, the
way httpx's `map_httpcore_exceptions` maps httpcore's errors to its own: the most specific
class of the error's MRO found in `_ANSWERS` wins. Every path that lets such an error reach a
client comes through `as_session_error`: the app's exception handler (creates, wakes, deletes,
hibernations, the proxy, export/import) and the WebSocket relay (through `translated`).

    error class              status  what the client can do
    ConfigValidationError    422     fix its input (its validation errors are shown)
    ProcessorStartError      502     retry: this start failed (the manager's log says why)
    EngineUnavailableError   503     wait: the engine does not answer now
    anything else            503     retry: the engine refused (EngineError), or the session's
                                     processor vanished under the manager (ProcessorNotFoundError)

A vanished processor is a 503, not a 404: the session exists, and a retry succeeds (a
hibernation is already recorded; a wake starts a new container), whereas a 404 would tell the
client to give the session up.

The answer carries the error's `KATO_…` code, the table's message and, of its details, our own
identifiers only (`processor_id`, `status`); the engine's words are logged here, never answered.
An invalid config is the exception: its message and details are the validation of the
client's own input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from container_manager import (
    ConfigValidationError,
    ContainerManagerError,
    EngineUnavailableError,
    ProcessorStartError,
)

from .errors import SessionError

__all__ = ["EngineFailureError", "as_session_error", "translated"]

log = logging.getLogger("session_manager.engine_errors")


class EngineFailureError(SessionError):
    """A `ContainerManagerError` as answered to clients; `code` and `status` come from it and
    the table. Over a WebSocket it closes with 1011 whatever its status (see ws_relay)."""


@dataclass(frozen=True)
class _Answer:
    status: int
    #: None: the error's own message and details (they describe the client's input).
    message: str | None


_ANSWERS: dict[type[ContainerManagerError], _Answer] = {
    ConfigValidationError: _Answer(422, None),
    ProcessorStartError: _Answer(502, "the session's container could not be started"),
    EngineUnavailableError: _Answer(503, "the container engine is unavailable"),
    ContainerManagerError: _Answer(503, "the container engine failed (see the manager's log)"),
}

#: Details of ours that identify what failed; anything else a backend adds is not shown.
_SHOWN_DETAILS = ("processor_id", "status")


def as_session_error(exc: ContainerManagerError) -> EngineFailureError:
    """The client's view of `exc` (logged here with the engine's own words)."""
    log.warning(
        "container engine error: %s", exc.message, extra={"code": exc.code, "details": exc.details}
    )
    answer = next(_ANSWERS[cls] for cls in type(exc).__mro__ if cls in _ANSWERS)
    if answer.message is None:
        return EngineFailureError(exc.message, exc.details, status=answer.status, code=exc.code)
    details = {key: exc.details[key] for key in _SHOWN_DETAILS if key in exc.details}
    return EngineFailureError(answer.message, details, status=answer.status, code=exc.code)


@contextmanager
def translated() -> Iterator[None]:
    """Raise any `ContainerManagerError` of the block as its `EngineFailureError`."""
    try:
        yield
    except ContainerManagerError as exc:
        raise as_session_error(exc) from exc
