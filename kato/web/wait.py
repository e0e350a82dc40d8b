"""Wait for a condition by polling it: the one loop behind waits that have no event to await.

A wait says what it waits for, so the error of one that runs out names it. The condition is
called until it returns something truthy, which is returned; an exception it raises is not
swallowed (a wait must not hide a real failure behind a timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitTimeout", "until", "wait_until"]

T = TypeVar("T")


class WaitTimeout(AssertionError, TimeoutError):
    """The condition stayed false for the whole timeout (an `AssertionError` too, so a test
    that waits reports it as a failed expectation rather than an error)."""


def wait_until(
    what: str,
    condition: Callable[[], T],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
) -> T:
    """Call `condition` every `interval` seconds until it returns a truthy value (returned);
    raise :class:`WaitTimeout` naming `what` when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        _check(what, deadline, timeout)
        time.sleep(interval)
    return value


async def until(
    what: str,
    condition: Callable[[], T],
    *,
    timeout: float = 60.0,
    interval: float = 0.01,
) -> T:
    """`wait_until` on an event loop: the loop goes on running between tries (a condition
    that other tasks make true, such as a pool filling)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        _check(what, deadline, timeout)
        await asyncio.sleep(interval)
    return value


def _check(what: str, deadline: float, timeout: float) -> None:
    if time.monotonic() >= deadline:
        raise WaitTimeout(f"{what}: not within {timeout:g} s")
