"""Wait until a server answers its start-up probe (``GET /health/startup``) with 200, failing
fast if it stops.

The one poll loop behind the container manager's start of a processor and the launchers that
tests and benchmarks use (``launcher``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from kato.contract import STARTUP_PATH

__all__ = ["NotReady", "wait_until_ready"]

_FIRST_DELAY = 0.02
_MAX_DELAY = 0.1
_TRY_TIMEOUT = 1.0


class NotReady(RuntimeError):
    """No 200 from the start-up probe: the server stopped (``exited``) or the time ran out.

    ``last_problem`` says what the last try got (``/health/startup answered 503``,
    ``/health/startup: ConnectError``) and is safe to show; each caller words its own error
    around it.
    """

    def __init__(self, message: str, *, exited: bool, last_problem: str) -> None:
        super().__init__(f"{message} ({last_problem})")
        self.exited = exited
        self.last_problem = last_problem


def wait_until_ready(
    url: str,
    *,
    timeout: float,
    is_running: Callable[[], bool],
    transport: httpx.BaseTransport | None = None,
    path: str = STARTUP_PATH,
) -> None:
    """Poll ``url`` + ``path`` (``/health/startup`` unless told) with a short per-try timeout
    and a back-off from 20 ms to 100 ms.

    Raises :class:`NotReady` when ``timeout`` seconds pass without a 200, or as soon as
    ``is_running()`` says the server has stopped (one that exits at start-up should not cost
    the whole timeout).
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    last_problem = "no answer yet"
    with httpx.Client(transport=transport, timeout=_TRY_TIMEOUT) as client:
        while True:
            try:
                response = client.get(f"{url}{path}")
                if response.status_code == 200:
                    return
                last_problem = f"{path} answered {response.status_code}"
            except httpx.HTTPError as exc:
                last_problem = f"{path}: {type(exc).__name__}"
            if not is_running():
                raise NotReady(
                    "exited before becoming ready", exited=True, last_problem=last_problem
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotReady(
                    f"not ready after {timeout:g}s", exited=False, last_problem=last_problem
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, _MAX_DELAY)
