"""Wait until a processor answers its start-up probe (`GET /health/startup`), failing fast if
its container dies.

The poll loop is `kato.web.readiness` (the launchers of tests and benchmarks use it too); what
is ours is the error: a processor that never became ready is a `ProcessorStartError`.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from kato.web import readiness

from .errors import ProcessorStartError

__all__ = ["wait_until_ready"]


def wait_until_ready(
    url: str,
    *,
    timeout: float,
    is_running: Callable[[], bool],
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Poll `url/health/startup` (see `kato.web.readiness.wait_until_ready`).

    Raises `ProcessorStartError` when `timeout` seconds pass without a 200, or as soon as
    `is_running()` says the container has stopped; `diagnostics` holds what the last try got.
    """
    try:
        readiness.wait_until_ready(url, timeout=timeout, is_running=is_running, transport=transport)
    except readiness.NotReady as exc:
        message = (
            "processor container exited before becoming ready"
            if exc.exited
            else f"processor not ready after {timeout:g}s"
        )
        raise ProcessorStartError(message, diagnostics=[exc.last_problem]) from None
