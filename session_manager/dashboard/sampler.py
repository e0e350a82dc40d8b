"""The dashboard's view of the machine, refreshed in the background every few seconds: metric
totals into the 15-minute ring, whether the container engine answers, and the memory of each
running session's container.

Why a loop and not work per page load: `docker stats` costs tens of milliseconds per container
and a ping can hang while the engine is down; the page polls every two seconds and several
operators may watch at once, so they all read the last sample instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from container_manager import ContainerManagerError

from ..sessions import SessionService
from .samples import SampleRing, read_totals

__all__ = ["EngineState", "Sampler", "sampler_lifespan"]

log = logging.getLogger("session_manager.dashboard")

#: Seconds between samples, and how much history the charts keep.
SAMPLE_INTERVAL = 5.0
WINDOW = 15 * 60.0
#: Container memory is read every this many samples (docker stats is the costly part).
MEMORY_EVERY = 2


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
    _ticks: int = 0

    async def sample_once(self) -> None:
        self.ring.add(time.time(), read_totals(self.service.metrics))
        await self._check_engine()
        if self.engine.reachable and self._ticks % MEMORY_EVERY == 0:
            self.memory = await asyncio.to_thread(self._read_memory, list(self.service.routes))
        self._ticks += 1

    async def run(self) -> None:
        while True:
            try:
                await self.sample_once()
            except Exception:
                log.exception("dashboard sample failed")
            await asyncio.sleep(SAMPLE_INTERVAL)

    async def _check_engine(self) -> None:
        try:
            await asyncio.to_thread(self.service.containers.ping)
        except ContainerManagerError as exc:
            if self.engine.reachable is not False:
                log.warning("container engine unreachable: %s", exc.message)
            self.engine = EngineState(False, exc.code, time.time())
        else:
            self.engine = EngineState(True, None, time.time())

    def _read_memory(self, session_ids: list[str]) -> dict[str, int]:
        memory: dict[str, int] = {}
        for session_id in session_ids:
            record = self.service.registry.get(session_id)
            if record is None:
                continue
            with contextlib.suppress(ContainerManagerError):
                stats = self.service.containers.stats(record.processor_id)
                if "memory_bytes" in stats:
                    memory[session_id] = int(stats["memory_bytes"])
        return memory


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
