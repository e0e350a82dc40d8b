"""Wait until a processor answers `GET /health`, failing fast if its container dies."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from kato.contract import HEALTH_PATH

from .errors import ProcessorStartError

__all__ = ["wait_until_ready"]

_FIRST_DELAY = 0.02
_MAX_DELAY = 0.1
_TRY_TIMEOUT = 1.0


def wait_until_ready(
    url: str,
    *,
    timeout: float,
    is_running: Callable[[], bool],
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Poll `url/health` with a short per-try timeout and a backoff from 20 ms to 100 ms.

    Raises `ProcessorStartError` when `timeout` seconds pass without a 200, or as soon as
    `is_running()` says the container has stopped (an app that exits at start-up should not
    cost the whole timeout).
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    last_problem = "no answer yet"
    with httpx.Client(transport=transport, timeout=_TRY_TIMEOUT) as client:
        while True:
            try:
                response = client.get(f"{url}{HEALTH_PATH}")
                if response.status_code == 200:
                    return
                last_problem = f"{HEALTH_PATH} answered {response.status_code}"
            except httpx.HTTPError as exc:
                last_problem = f"{HEALTH_PATH}: {type(exc).__name__}"
            if not is_running():
                raise ProcessorStartError(
                    "processor container exited before becoming ready", diagnostics=[last_problem]
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProcessorStartError(
                    f"processor not ready after {timeout:g}s", diagnostics=[last_problem]
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, _MAX_DELAY)
