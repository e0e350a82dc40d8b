"""The dashboard's view of the machine, refreshed in the background every few seconds: metric
totals into the 15-minute ring, whether the container engine answers, and the memory of each
running session's container.

Why loops and not work per page load: the page polls every two seconds, several operators may
watch at once, and the engine is slow to ask: `docker stats` of a container answers in about
10 ms the first time and then about 1 s (the daemon waits for its next one-second collection;
measured with bench/dashboard.py), and a ping can hang while the engine is down. So metric
samples and the memory sweep run on their own: a slow sweep never delays a sample, and its
blocking calls run on a small pool of their own, never on the default executor that spawns and
wakes use.

A session that starts running (created or woken) is measured as its lifecycle event arrives,
not at the next sweep (up to `MEMORY_INTERVAL` later): the first read of a container is the
fast one. A session that stops running loses its reading at once, so the page never shows a
hibernated session's old memory as current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from container_manager import ContainerManagerError

from ..events import EventBus, SessionEvent
from ..sessions import SessionService
from .samples import SampleRing, read_totals

__all__ = ["EngineState", "Sampler", "sampler_lifespan"]

log = logging.getLogger("session_manager.dashboard")

#: Seconds between samples, and how much history the charts keep.
SAMPLE_INTERVAL = 5.0
WINDOW = 15 * 60.0
#: Seconds between two sweeps of container memory, and the threads a sweep may use.
MEMORY_INTERVAL = 10.0
MEMORY_THREADS = 4


@dataclass
class EngineState:
    """None until the first ping; `code` is the error code when unreachable (never its text,
    which may carry engine internals: that goes to the log)."""

    reachable: bool | None = None
    code: str | None = None
    checked_at: float | None = None


@dataclass
class Sampler:
    service: SessionService
    ring: SampleRing = field(default_factory=lambda: SampleRing(WINDOW, SAMPLE_INTERVAL))
    engine: EngineState = field(default_factory=EngineState)
    memory: dict[str, int] = field(default_factory=dict)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(MEMORY_THREADS, "dashboard-memory")
    )

    async def sample_once(self) -> None:
        """Metric totals into the ring, then whether the engine answers."""
        self.ring.add(time.time(), read_totals(self.service.metrics))
        try:
            await asyncio.to_thread(self.service.containers.ping)
        except ContainerManagerError as exc:
            if self.engine.reachable is not False:
                log.warning("container engine unreachable: %s", exc.message)
            self.engine = EngineState(False, exc.code, time.time())
        else:
            self.engine = EngineState(True, None, time.time())

    async def read_memory_once(self) -> None:
        """Memory of every running session's container, read in parallel on the pool."""
        await self._read_memory(list(self.service.routes))

    async def follow(self, bus: EventBus) -> None:
        """Measure each session as it starts running; forget each one that stops."""
        with bus.subscribe() as queue:
            while True:
                batch = [await queue.get()]  # and whatever else arrived meanwhile
                while not queue.empty():
                    batch.append(queue.get_nowait())
                try:
                    await self._on_events(batch)
                except Exception:
                    log.exception("dashboard memory reading failed")

    async def run(self) -> None:
        loops = [
            _every(SAMPLE_INTERVAL, self.sample_once),
            _every(MEMORY_INTERVAL, self._sweep_memory),
        ]
        if self.service.events is not None:
            loops.append(self.follow(self.service.events))
        await asyncio.gather(*loops)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _sweep_memory(self) -> None:
        if self.engine.reachable:
            await self.read_memory_once()

    async def _on_events(self, batch: list[SessionEvent | None]) -> None:
        started: dict[str, None] = {}  # ordered, without repeats
        for event in batch:
            if event is None:  # the queue overflowed: events were lost, check every route
                started.update(dict.fromkeys(self.service.routes))
            elif event.status == "running":
                started[event.session_id] = None
            else:
                started.pop(event.session_id, None)
                self.memory.pop(event.session_id, None)
        fresh = [sid for sid in started if sid not in self.memory]
        if fresh and self.engine.reachable is not False:
            await self._read_memory(fresh)

    async def _read_memory(self, session_ids: list[str]) -> None:
        """Read `session_ids` in parallel on the pool and replace their readings (a failed read
        leaves none). Sessions stop and start while the reads run: only those still routed at
        the end keep a reading, and a sweep keeps the readings of sessions that started after
        it listed the routes."""
        loop = asyncio.get_running_loop()
        registry = self.service.registry
        records = await asyncio.gather(  # on the registry's own thread, one record each
            *(registry.call(registry.get, sid) for sid in session_ids)
        )
        processors = {
            record.session_id: record.processor_id for record in records if record is not None
        }
        readings = await asyncio.gather(
            *(loop.run_in_executor(self._pool, self._memory_of, pid) for pid in processors.values())
        )
        read = dict(zip(processors, readings, strict=True))
        routed = self.service.routes
        memory = {
            sid: value for sid, value in self.memory.items() if sid in routed and sid not in read
        }
        memory.update((sid, v) for sid, v in read.items() if v is not None and sid in routed)
        self.memory = memory

    def _memory_of(self, processor_id: str) -> int | None:
        try:
            stats = self.service.containers.stats(processor_id)
        except ContainerManagerError:
            return None
        return int(stats["memory_bytes"]) if "memory_bytes" in stats else None


async def _every(interval: float, step: Callable[[], Awaitable[None]]) -> None:
    while True:
        try:
            await step()
        except Exception:
            log.exception("dashboard sample failed")
        await asyncio.sleep(interval)


@asynccontextmanager
async def sampler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the manager's lifespan (after `app.state.service` exists)."""
    sampler = app.state.dashboard_sampler = Sampler(app.state.service)
    task = asyncio.create_task(sampler.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sampler.close()
