"""Background upkeep: flush activity, hibernate idle sessions, delete expired ones, reconcile.

`reap_once` is the unit the loop repeats; tests call it directly with a controlled clock.
Sessions are reaped concurrently (at most `KATO_REAP_CONCURRENCY` at once, across passes) and
each snapshot has its own timeout (`KATO_SNAPSHOT_TIMEOUT`); the loop starts a pass every
`KATO_REAP_INTERVAL` without waiting for the previous one, whose sessions the new pass skips.
So one slow or paused container never delays the others.

A session whose hibernation fails stays running, untouched (hibernating without a snapshot
would lose its STM): the failure is logged, counted in `kato_reap_failures_total`, and the
session is retried after a back-off that doubles up to `KATO_REAP_BACKOFF_MAX`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from container_manager import ContainerManagerError

from .errors import SessionError
from .reconcile import reconcile
from .registry import SessionRecord
from .sessions import SessionService

__all__ = ["ReapReport", "Upkeep", "reap_once"]

log = logging.getLogger("session_manager.reaper")


@dataclass
class ReapReport:
    hibernated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    backed_off: list[str] = field(default_factory=list)


async def reap_once(service: SessionService) -> ReapReport:
    """Delete sessions past their TTL and hibernate running ones idle past the timeout.

    Only expiry destroys a session; hibernation keeps everything (snapshot + volume).
    """
    report = ReapReport()
    await service.flush_activity()
    now = service.clock()
    retention = service.settings.expired_retention
    await service.registry.call(service.registry.forget_expired, now - retention)

    async def reap(record: SessionRecord) -> None:
        try:
            async with service.reap_slots:
                await _reap_one(service, record, now, report)
        finally:
            service.reaping.discard(record.session_id)

    # Running and expired sessions only: a hibernated or stopped one within its TTL has
    # nothing to reap, and 10,000 of them read and gathered cost a pass 200 ms of CPU
    # (bench/scale.py; 6 ms now, with 300 running).
    reapable = await service.registry.call(service.registry.reapable, now)
    records = [r for r in reapable if r.session_id not in service.reaping]
    service.reaping.update(r.session_id for r in records)
    await asyncio.gather(*(reap(record) for record in records))
    return report


async def _reap_one(
    service: SessionService, record: SessionRecord, now: float, report: ReapReport
) -> None:
    session_id = record.session_id
    expired = record.expires_at is not None and record.expires_at <= now
    idle = (
        record.status == "running"
        and now - service.last_activity(record) >= service.settings.idle_timeout
    )
    if not expired and not idle:
        if service.pausing and now - service.last_activity(record) >= service.settings.pause_after:
            await _pause_one(service, record, report)
        return
    if not service.hibernate_backoff.ready(session_id, now):
        report.backed_off.append(session_id)
        return
    kind = "expiry" if expired else "hibernation"
    try:
        if expired:
            await service.delete(session_id, reason="expiry")
            report.expired.append(session_id)
        elif await service.hibernate(session_id):
            report.hibernated.append(session_id)
        service.hibernate_backoff.clear(session_id)
    except Exception as exc:  # one session's failure never stops the others
        failures = service.hibernate_backoff.failed(session_id, now)
        service.metrics.reap_failures.labels(kind).inc()
        report.failed.append(session_id)
        log.warning(
            "reap failed, session left as it is: %s",
            exc.message if isinstance(exc, SessionError) else repr(exc),
            extra={
                "session_id": session_id,
                "kind": kind,
                "code": getattr(exc, "code", type(exc).__name__),
                "failures_in_a_row": failures,
            },
        )


async def _pause_one(service: SessionService, record: SessionRecord, report: ReapReport) -> None:
    route = service.routes.get(record.session_id)
    if record.status != "running" or route is None or route.paused:
        return
    try:
        if await service.pause(record.session_id):
            report.paused.append(record.session_id)
    except Exception as exc:  # left running: the next pass tries again
        log.warning(
            "pause failed, session left running: %s",
            exc.message if isinstance(exc, SessionError | ContainerManagerError) else repr(exc),
            extra={"session_id": record.session_id},
        )


class Upkeep:
    """The reaper and reconcile loops as two tasks of the app's lifespan."""

    def __init__(self, service: SessionService) -> None:
        self.service = service
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        settings = self.service.settings
        self._start(self._every(settings.reap_interval, reap_once, overlap=True))
        self._start(self._every(settings.reconcile_interval, reconcile, overlap=False))

    async def stop(self) -> None:
        tasks, self._tasks = set(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _start(self, step: Awaitable[None]) -> None:
        task = asyncio.ensure_future(step)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _every(
        self,
        interval: float,
        step: Callable[[SessionService], Awaitable[object]],
        *,
        overlap: bool,
    ) -> None:
        """Run `step` every `interval`; with `overlap`, a slow pass does not hold the next."""
        while True:
            await asyncio.sleep(interval)
            if overlap:
                self._start(self._guarded(step))
            else:
                await self._guarded(step)

    async def _guarded(self, step: Callable[[SessionService], Awaitable[object]]) -> None:
        try:
            await step(self.service)
        except Exception:
            log.exception("upkeep step failed")
