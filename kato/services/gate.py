"""The one door to the processor: serialises every call and shapes what comes out.

All HTTP and WebSocket handlers go through :class:`ProcessorGate`, so requests touch the processor
strictly one at a time, in arrival order (``asyncio.Lock`` is FIFO). Fast operations run on the
event loop (no thread hop); long ones (whole sequences, clear-all, state transfer) run in a worker
thread while the lock is held so ``/health`` keeps answering.

Outputs are the processor's own: every read builds fresh objects whose prediction names already
carry ``PTRN|`` (QUIRK-11 fixed in :mod:`kato.processor`), so nothing is copied or renamed here.

Upkeep (``KatoProcessor.upkeep``: packing the prediction log, the store's WAL checkpoints) is the
one piece of work done after answering: a task queued behind the call takes the lock once the
response is on its way.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from kato.processor import KatoProcessor, Observation
from kato.services.models import ObservationData

T = TypeVar("T")


def generate_id(prefix: str) -> str:
    """``<prefix>-<32 hex>-<unix micros>``, the upstream id format."""
    return f"{prefix}-{uuid.uuid4().hex}-{int(time.time() * 1e6)}"


def to_observation(data: ObservationData, id_prefix: str) -> Observation:
    return Observation(
        strings=data.strings,
        vectors=data.vectors,
        emotives=data.emotives,
        unique_id=data.unique_id or generate_id(id_prefix),
    )


class ProcessorGate:
    """Owns the processor, its lock and the service clock."""

    def __init__(self, processor: KatoProcessor) -> None:
        self.processor = processor
        self.processor_id = processor.processor_id
        self.lock = asyncio.Lock()
        self.started = time.monotonic()
        self._compaction: asyncio.Task[None] | None = None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a fast processor operation under the lock on the event loop."""
        async with self.lock:
            result = fn(*args)
        self._compact_later()
        return result

    async def call_slow(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a long processor operation under the lock in a worker thread."""
        async with self.lock:
            result = await run_in_threadpool(fn, *args)
        self._compact_later()
        return result

    def _compact_later(self) -> None:
        if self._compaction is None and self.processor.upkeep_due:
            self._compaction = asyncio.get_running_loop().create_task(self._compact())

    async def _compact(self) -> None:
        try:
            async with self.lock:
                self.processor.upkeep()
        finally:
            self._compaction = None

    def observe_result(self, data: ObservationData, id_prefix: str) -> dict[str, Any]:
        """Observe one validated observation; the HTTP-level result dict (spec §7.3)."""
        result = self.processor.observe(to_observation(data, id_prefix))
        return {
            "status": "okay",
            "processor_id": self.processor_id,
            "auto_learned_pattern": result.auto_learned_pattern,
            "time": result.time,
            "unique_id": result.unique_id,
        }

    def learn_result(self) -> dict[str, Any]:
        name = self.processor.learn()
        message = f"Learned pattern: {name}" if name else "Insufficient data for learning"
        return {"pattern_name": name, "processor_id": self.processor_id, "message": message}

    def predictions(self, unique_id: str | None) -> dict[str, Any]:
        found = self.processor.get_predictions(unique_id or None)
        return {"predictions": found, "processor_id": self.processor_id}

    def stm(self) -> dict[str, Any]:
        return {
            "stm": [list(event) for event in self.processor.stm],
            "processor_id": self.processor_id,
        }

    def status_message(self, message: str) -> dict[str, Any]:
        return {"status": "okay", "message": message, "processor_id": self.processor_id}

    def counters(self) -> dict[str, Any]:
        """The spec's ``/metrics`` object (spec §7.13)."""
        return {
            "processor_id": self.processor_id,
            "observations_processed": self.processor.time,
            "patterns_learned": self.processor.pattern_count,
            "stm_size": len(self.processor.stm),
            "uptime_seconds": self.uptime,
        }
