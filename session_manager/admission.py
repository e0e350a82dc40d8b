"""`Admission`: room for one more running session, first come first served.

A create or wake takes a slot before it starts (or claims) a container and gives it back once
its route is in place (the route counts from then on). With every slot in use it first asks
`evict` to hibernate an idle session (see `SessionService.evict_one`); when none is evictable
it waits in a FIFO queue, at most `KATO_SPAWN_WAIT` seconds, then gets a 503 with Retry-After:
`KATO_CAPACITY` when running sessions fill every slot, `KATO_SPAWN_BUSY` (Retry-After from the
start queue) when some slots are only held by creates and wakes still under way.
Only the head of the queue takes a freed slot or evicts, so a burst is served in arrival order
and one eviction makes room for one waiter. Waiters are woken when a slot frees (`notify`) and
look again every `_RECHECK` seconds, since a session may become evictable meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import CapacityError
from .metrics import ManagerMetrics
from .settings import ManagerSettings
from .spawning import SpawnQueue

__all__ = ["Admission"]

_RECHECK = 0.25


class Admission:
    def __init__(
        self,
        settings: ManagerSettings,
        metrics: ManagerMetrics,
        *,
        routed: Callable[[], int],
        evict: Callable[[], Awaitable[bool]],
        spawns: SpawnQueue,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.reserved = 0
        self._routed = routed
        self._evict = evict
        self._spawns = spawns
        self._queue: deque[asyncio.Event] = deque()

    def used(self) -> int:
        """Slots in use: routed sessions plus creates and wakes under way."""
        return self._routed() + self.reserved

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one session slot for the block (a start, claim or wake)."""
        await self._acquire()
        try:
            yield
        finally:
            self.reserved -= 1
            self.notify()

    def notify(self) -> None:
        """A slot may be free: the head of the queue looks again."""
        if self._queue:
            self._queue[0].set()

    async def _acquire(self) -> None:
        started = time.perf_counter()
        deadline = started + self.settings.spawn_wait
        me = asyncio.Event()
        self._queue.append(me)
        self.metrics.admission_waiting.set(len(self._queue))
        try:
            while True:
                me.clear()
                if self._queue[0] is me:
                    if self.used() < self.settings.max_sessions:
                        self.reserved += 1
                        break
                    if await self._evict():
                        continue
                left = deadline - time.perf_counter()
                if left <= 0:
                    self.metrics.admission_wait_seconds.labels("refused").observe(
                        time.perf_counter() - started
                    )
                    raise self._refusal()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(me.wait(), min(left, _RECHECK))
        finally:
            self._queue.remove(me)
            self.metrics.admission_waiting.set(len(self._queue))
            self.notify()
        self.metrics.admission_wait_seconds.labels("admitted").observe(
            time.perf_counter() - started
        )

    def _refusal(self) -> CapacityError:
        """Why no slot came: running sessions fill them all, or some are held by creates and
        wakes still under way (their starts queue: retry when the queue has moved)."""
        limit = self.settings.max_sessions
        if self._routed() >= limit:
            return CapacityError(
                "all session slots are in use", self.settings.retry_after, {"max_sessions": limit}
            )
        return self._spawns.busy_error(
            f"{self.reserved} of the {limit} session slots are held by creates and wakes "
            "still starting",
            max_sessions=limit,
        )
