"""Background upkeep: flush activity, hibernate idle sessions, delete expired ones, reconcile.

`reap_once` is the unit the loop repeats; tests call it directly with a controlled clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .errors import SessionError
from .reconcile import reconcile
from .sessions import SessionService

__all__ = ["ReapReport", "Upkeep", "reap_once"]

log = logging.getLogger("session_manager.reaper")


@dataclass
class ReapReport:
    hibernated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


async def reap_once(service: SessionService) -> ReapReport:
    """Delete sessions past their TTL and hibernate running ones idle past the timeout.

    Only expiry destroys a session; hibernation keeps everything (snapshot + volume).
    """
    report = ReapReport()
    service.flush_activity()
    now = service.clock()
    for record in service.registry.all():
        try:
            if record.expires_at is not None and record.expires_at <= now:
                await service.delete(record.session_id, reason="expiry")
                report.expired.append(record.session_id)
            elif (
                record.status == "running"
                and now - service.last_activity(record) >= service.settings.idle_timeout
                and await service.hibernate(record.session_id)
            ):
                report.hibernated.append(record.session_id)
        except SessionError as exc:
            log.warning(
                "reap failed: %s",
                exc.message,
                extra={"session_id": record.session_id, "code": exc.code},
            )
    return report


class Upkeep:
    """The reaper and reconcile loops as two tasks of the app's lifespan."""

    def __init__(self, service: SessionService) -> None:
        self.service = service
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        settings = self.service.settings
        self._tasks = [
            asyncio.create_task(self._every(settings.reap_interval, reap_once)),
            asyncio.create_task(self._every(settings.reconcile_interval, reconcile)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _every(
        self, interval: float, step: Callable[[SessionService], Awaitable[object]]
    ) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await step(self.service)
            except Exception:
                log.exception("upkeep step failed")
