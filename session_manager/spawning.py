"""`SpawnQueue`: at most `KATO_MAX_CONCURRENT_SPAWNS` containers start at once, the others wait.

A create or wake that needs a cold start takes a start slot here (inside its session slot, see
`admission`); the warm pool's refill takes one only when nobody else wants it. At most
`KATO_SPAWN_QUEUE` starts wait, each at most `KATO_SPAWN_WAIT` seconds; beyond either a start
is refused with `KATO_SPAWN_BUSY`: session slots may be free, the start queue is what is full.

Its `Retry-After` comes from the queue, not a constant: the starts ahead of a new one, divided
among the slots, times the recent mean start time (an exponential average of measured starts).
The same estimate answers a create that waited for a session slot held only by starts under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from .errors import SpawnBusyError

__all__ = ["SpawnQueue"]

#: The mean start time assumed before any start was measured (a cold start here: ~0.6 s).
_FIRST_GUESS_SECONDS = 1.0
#: Weight of the newest measurement in the mean.
_SMOOTHING = 0.2
#: Bounds of the Retry-After it advises, in seconds.
_RETRY_RANGE = (1, 60)


class SpawnQueue:
    def __init__(self, *, concurrency: int, queue: int, wait: float) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.wait = wait
        self.starting = 0
        self.waiting = 0
        self.mean_start_seconds = _FIRST_GUESS_SECONDS
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def busy(self) -> bool:
        """Every start slot is taken, or someone waits for one."""
        return self._slots.locked() or self.waiting > 0

    def retry_after(self) -> int:
        """Seconds until a start asked now would likely begin: the starts ahead of it, shared
        among the slots, times the mean start time (within 1..60)."""
        ahead = self.starting + self.waiting + 1
        rounds = math.ceil(ahead / self.concurrency)
        low, high = _RETRY_RANGE
        return max(low, min(high, math.ceil(rounds * self.mean_start_seconds)))

    def busy_error(self, why: str, **details: int) -> SpawnBusyError:
        """`KATO_SPAWN_BUSY` saying `why`, with the queue's state (and `details`) and the
        Retry-After it advises."""
        queue = {
            "max_concurrent_spawns": self.concurrency,
            "starting": self.starting,
            "waiting": self.waiting,
        }
        return SpawnBusyError(why, self.retry_after(), {**queue, **details})

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a start slot for the block, first come first served (`SpawnBusyError` when
        the queue is full or the wait runs out)."""
        if self.busy:
            if self.waiting >= self.queue:
                raise self.busy_error(f"{self.waiting} container starts are already queued")
            self.waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), self.wait or None)
            except TimeoutError:
                raise self.busy_error(
                    f"no container start slot within KATO_SPAWN_WAIT ({self.wait:g} s)"
                ) from None
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()  # free: taken now, before anyone else looks
        self.starting += 1
        try:
            yield
        finally:
            self.starting -= 1
            self._slots.release()

    async def idle_slot(self) -> bool:
        """Take a slot only if nobody else wants one (the pool's refill); `release` gives it
        back. False: busy, nothing taken."""
        if self.busy:
            return False
        await self._slots.acquire()  # free, so no wait
        return True

    def release(self) -> None:
        self._slots.release()

    def measured(self, seconds: float) -> None:
        """A start took `seconds`: fold it into the mean."""
        self.mean_start_seconds += _SMOOTHING * (seconds - self.mean_start_seconds)
