"""`WarmPool`: processors started before anyone asks, so a create is a claim, not a start.

The rules, with the session registry as the one source of truth about claims:
- a pooled processor is a container labelled `kato.pool=true` with no session label (so the
  container manager's orphan rule never takes it); it is *claimed* once a session record
  names its processor id, and only then: nothing else marks a claim;
- `take` hands the oldest ready processor to one caller, synchronously (no await between the
  check and the pop), so two creates racing for the last one never get the same; the caller
  writes its record (the claim) and then calls `settled`;
- `reconcile` (start-up and every `KATO_RECONCILE_INTERVAL`) lists pooled containers, then
  snapshots what this process holds (ready, being claimed, starting), then reads the claims:
  in that order a processor taken and claimed meanwhile is always seen as either held or
  claimed, never as free. Unclaimed running ones that answer `/health` are (re)adopted up to
  the pool size, the others (stopped, not answering, surplus) are removed with their volume:
  an unclaimed pooled processor holds no one's data. Claimed ones are their sessions' (the
  session reconcile adopts them). After a `kill -9`, a record still `starting` is a ghost
  whose container goes with it (see reconcile.py), so nothing is claimed twice;
- refill runs in the background, at most `_REFILL_AT_ONCE` starts at a time, each holding a
  spawn slot, and only when no user create or wake waits for one and no claim is in flight
  (a container start costs a core for a second: a burst of claims is served first); the
  budget rule: sessions plus pooled processors never exceed `KATO_MAX_SESSIONS` (each is one
  container in memory), and a session start that finds the budget full removes a pooled
  processor first;
- a manager stopping (SIGTERM) keeps its pooled containers, running, for the next start on the
  same state directory to adopt; `katoctl down` removes them for good (`drainable`), only
  while no manager runs there (see state_lock.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

import aiohttp

from container_manager import ContainerManagerError, KatoContainerManager, ProcessorInfo
from kato.web import tracing

from .metrics import ManagerMetrics
from .processor_client import check_health
from .settings import ManagerSettings

__all__ = ["POOLABLE_GENES", "WarmPool", "drainable", "unclaimed"]

log = logging.getLogger("session_manager.pool")

#: Genes a running processor takes through `POST /genes/update` (kato/processor/genes.py);
#: the others (name, indexing, resource limits, and `persistence`, whose emotive window is
#: the start-up value only, spec QUIRK-7) are fixed at container start: cold path.
POOLABLE_GENES = frozenset({"max_pattern_length", "recall_threshold", "max_predictions", "sort"})
_REFILL_AT_ONCE = 2
_HEALTH_TIMEOUT = 2.0


def unclaimed(listed: Iterable[ProcessorInfo], claimed: Collection[str]) -> list[ProcessorInfo]:
    """The pool's processors among `listed` that no session claims (the first rule above)."""
    return [
        info
        for info in listed
        if info.pooled and not info.session_id and info.processor_id not in claimed
    ]


def drainable(
    containers: KatoContainerManager, claims: Callable[[], Collection[str]]
) -> list[ProcessorInfo]:
    """This deployment's unclaimed pooled processors, to remove with their volumes (they hold
    no one's data) once no manager runs: listed first, claims read after, as `reconcile` does."""
    listed = containers.list_processors()
    return unclaimed(listed, set(claims()))


class WarmPool:
    """Ready, unclaimed processors; `running` counts the sessions' containers (the budget)."""

    def __init__(
        self,
        settings: ManagerSettings,
        containers: KatoContainerManager,
        client: aiohttp.ClientSession,
        metrics: ManagerMetrics,
        *,
        running: Callable[[], int],
        claims: Callable[[], Awaitable[Collection[str]]],
        spawn_slot: Callable[[], Awaitable[bool]],
        release_slot: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.containers = containers
        self.client = client
        self.metrics = metrics
        self.desired = settings.pool_size
        self._running = running
        self._claims = claims
        self._spawn_slot = spawn_slot
        self._release_slot = release_slot
        self.ready: dict[str, ProcessorInfo] = {}
        self.claiming: set[str] = set()
        self.launching: set[str] = set()
        self._refill: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._stopped = False
        metrics.pool_desired.set(self.desired)

    # -- claims ------------------------------------------------------------------------------
    def take(self) -> ProcessorInfo | None:
        """The oldest ready processor, now held by the caller until `settled` (None: empty)."""
        if not self.ready:
            self.metrics.pool_claims.labels("miss").inc()
            return None
        processor_id = next(iter(self.ready))
        info = self.ready.pop(processor_id)
        self.claiming.add(processor_id)
        self.metrics.pool_claims.labels("hit").inc()
        self._publish()
        return info

    def settled(self, info: ProcessorInfo, *, back: bool = False) -> None:
        """The caller's claim is recorded (or dropped); `back` returns a healthy, unchanged
        processor to the pool (a create refused before it changed anything)."""
        self.claiming.discard(info.processor_id)
        if back and not self._stopped:
            self.ready[info.processor_id] = info
        self._publish()
        self.kick()

    def over_budget(self) -> int:
        """Pooled processors to give back so the sessions (the caller's start included: it
        holds its admission slot) and the pool fit in `KATO_MAX_SESSIONS`."""
        held = len(self.ready) + self.starting
        return max(0, self._running() + held - self.settings.max_sessions)

    async def make_room(self) -> None:
        """Remove as many ready processors as a session start needs (see the budget rule)."""
        for _ in range(min(self.over_budget(), len(self.ready))):
            processor_id = next(iter(self.ready))
            del self.ready[processor_id]
            await self.discard(processor_id)
        self._publish()

    async def discard(self, processor_id: str) -> None:
        """Remove a pooled processor with its volume (it holds no one's data)."""
        try:
            await asyncio.to_thread(self.containers.remove_processor, processor_id)
        except ContainerManagerError as exc:
            log.warning(
                "pooled processor not removed: %s",
                exc.message,
                extra={"processor_id": processor_id, "code": exc.code},
            )

    # -- refill ------------------------------------------------------------------------------
    def kick(self) -> None:
        """Start the refill loop unless it runs (cheap; called after every change)."""
        if self._stopped or self.desired == 0:
            return
        if self._refill is None or self._refill.done():
            self._refill = asyncio.ensure_future(self._refill_loop())

    def _wanted(self) -> int:
        free = self.settings.max_sessions - self._running() - len(self.ready) - self.starting
        return max(0, min(self.desired - len(self.ready) - self.starting, free))

    async def _refill_loop(self) -> None:
        while not self._stopped and self._wanted() > 0:
            if self.starting >= _REFILL_AT_ONCE or self.claiming or not await self._spawn_slot():
                await asyncio.sleep(0.05)  # users first: a claim or start in flight goes first
                continue
            processor_id = secrets.token_hex(6)
            self.launching.add(processor_id)  # counted before the task runs
            self._publish()
            task = asyncio.ensure_future(self._start_one(processor_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    @property
    def starting(self) -> int:
        return len(self.launching)

    @tracing.traced("pool.spawn")
    async def _start_one(self, processor_id: str) -> None:
        """One pooled processor; its id is chosen by the caller and held in `launching`, so
        `reconcile` knows it is ours while it starts (listed but not ready yet)."""
        started = time.perf_counter()
        info: ProcessorInfo | None = None
        try:
            info = await asyncio.to_thread(
                self.containers.create_processor, processor_id=processor_id, pooled=True
            )
        except ContainerManagerError as exc:
            log.warning("pooled processor did not start: %s", exc.message, extra={"code": exc.code})
        finally:
            self._release_slot()
            if info is not None and not self._stopped:
                self.ready[processor_id] = info
            self.launching.discard(processor_id)
            self._publish()
        if info is None:
            await asyncio.sleep(1.0)  # an engine failing now: no tight loop of attempts
        else:
            self.metrics.pool_refill_seconds.observe(time.perf_counter() - started)
        self.kick()

    # -- upkeep ------------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Adopt unclaimed pooled containers that answer, replace those that do not."""
        listed = await asyncio.to_thread(self.containers.list_processors)
        # Snapshot of what this process holds, taken before the claims are read.
        held = set(self.ready) | self.claiming | self.launching
        free = unclaimed(listed, set(await self._claims()))
        healthy = await asyncio.gather(*(self._answers(info) for info in free))
        for info, ok in zip(free, healthy, strict=True):
            known = info.processor_id in held
            if ok and (known or len(self.ready) + self.starting < self.desired):
                if not known:
                    log.info("pooled processor adopted", extra={"processor_id": info.processor_id})
                if info.processor_id not in self.claiming:
                    self.ready.setdefault(info.processor_id, info)
                continue
            if info.processor_id in self.claiming or info.processor_id in self.launching:
                continue
            self.ready.pop(info.processor_id, None)
            log.warning(
                "pooled processor replaced" if not ok else "surplus pooled processor removed",
                extra={"processor_id": info.processor_id, "status": info.status},
            )
            await self.discard(info.processor_id)
        self._publish()
        self.kick()

    async def _answers(self, info: ProcessorInfo) -> bool:
        if info.status != "running":
            return False
        return await check_health(self.client, info.internal_url, info.token, _HEALTH_TIMEOUT)

    async def stop(self) -> None:
        """Stop refilling; pooled containers stay, running (the next start adopts them;
        `katoctl down` removes them)."""
        self._stopped = True
        tasks = [t for t in (self._refill, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _publish(self) -> None:
        self.metrics.pool_ready.set(len(self.ready))
        self.metrics.pool_starting.set(self.starting)
