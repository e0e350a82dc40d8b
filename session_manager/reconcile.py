"""Make records and containers agree: at start-up and every `KATO_RECONCILE_INTERVAL`.

- orphans follow the container manager's one rule (`KatoContainerManager.prune`), with the
  registry's processors as the claims: a container of this deployment that serves a session
  the registry does not hold is removed, its data volume kept for `KATO_ORPHAN_GRACE`; other
  deployments' containers (other managers, `katoctl` on another state directory) are never
  seen, and `katoctl spawn` processors (no session) are the CLI's, so they are left alone;
- a container a record claims and that runs is adopted (routed again after a restart);
- a paused (or restarting) container is left as it is: it still holds the session's memory;
- a running/starting record whose container vanished becomes `stopped`: the next request
  recreates the container on the same data volume (patterns kept, no state snapshot);
- a container left behind by a wake that never finished (record still hibernated/stopped)
  is removed, keeping its volume, so the next request wakes the session properly;
- a warm-pool processor (label `kato.pool`, no session label) belongs to the session whose
  record names it and is adopted like any other; unclaimed ones are the pool's
  (`WarmPool.reconcile`: adopted back into the pool, or replaced when they do not answer).
Each session is handled under its lock and re-read there, so in-flight operations win.

At start-up only (`reconcile_at_startup`), records still `starting` are ghosts: their create
never finished, so no client ever received them; their container, volume and record go (a
claimed pooled processor too: it may carry the ghost's genes, so it never returns to the pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from container_manager import ProcessorInfo, ProcessorNotFoundError
from container_manager.models import SUSPENDED_STATUSES

from .sessions import SessionService

__all__ = ["ReconcileReport", "reconcile", "reconcile_at_startup", "remove_ghosts"]

log = logging.getLogger("session_manager.reconcile")

#: Statuses without a container.
_ASLEEP = ("hibernated", "stopped")


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    ghosts_removed: list[str] = field(default_factory=list)
    #: The router's routes made the manager's (`SessionService.sync_routes`).
    routes_added: list[str] = field(default_factory=list)
    routes_removed: list[str] = field(default_factory=list)


async def reconcile_at_startup(service: SessionService) -> ReconcileReport:
    """Before serving: remove ghosts (nothing is in flight yet), then reconcile."""
    ghosts = await remove_ghosts(service)
    report = await reconcile(service)
    report.ghosts_removed = ghosts
    return report


async def remove_ghosts(service: SessionService) -> list[str]:
    """Delete records still `starting` with their container and volume; return their ids.

    Only safe before the manager serves: while it serves, `starting` is a create in progress.
    A create answers only after its record says `running`, so a ghost was never acknowledged.
    """
    removed: list[str] = []
    registry = service.registry
    for session_id in await registry.call(registry.ids, "starting"):
        async with service.lock(session_id):
            record = await registry.call(registry.get, session_id)
            if record is None or record.status != "starting":
                continue
            with contextlib.suppress(ProcessorNotFoundError):
                await asyncio.to_thread(service.containers.remove_processor, record.processor_id)
            await registry.call(registry.delete, session_id)
        removed.append(session_id)
    if removed:
        log.warning("removed sessions whose create never finished", extra={"ghosts": removed})
    return removed


async def reconcile(service: SessionService) -> ReconcileReport:
    report = ReconcileReport()
    registry = service.registry
    # `prune` runs on its own thread and asks for the claims from there: a direct read.
    pruned = await asyncio.to_thread(service.containers.prune, registry.processor_ids)
    report.orphans_removed = pruned.containers_removed
    infos = await asyncio.to_thread(service.containers.list_processors)
    by_processor = {info.processor_id: info for info in infos if info.session_id or info.pooled}
    for session_id, processor_id, status in await registry.call(
        registry.to_reconcile, list(by_processor)
    ):
        if not _settled(service, session_id, by_processor.get(processor_id), status):
            await _check_session(service, session_id, by_processor, report)  # re-read, locked
    await service.pool.reconcile()
    report.routes_added, report.routes_removed = await service.sync_routes()
    if report.adopted or report.orphans_removed or report.vanished or report.suspended:
        log.info(
            "reconciled",
            extra={
                "adopted": report.adopted,
                "orphans_removed": report.orphans_removed,
                "vanished": report.vanished,
                "suspended": report.suspended,
            },
        )
    return report


def _settled(
    service: SessionService, session_id: str, info: ProcessorInfo | None, status: str
) -> bool:
    """Whether `_check_session` would change nothing, known without its lock or a read of the
    record: a hibernated or stopped session without a container (those are not even read:
    `SessionRegistry.to_reconcile`), a routed one whose container runs. At 10,000 sessions
    the per-session locked re-reads made a pass 716 ms of CPU; 20 ms now (bench/scale.py).
    A session whose status changes meanwhile is an operation in flight, which wins anyway;
    the next pass sees what it left."""
    if status in _ASLEEP:
        return info is None
    route = service.routes.get(session_id)
    return info is not None and info.status == "running" and route is not None and not route.paused


async def _check_session(
    service: SessionService,
    session_id: str,
    by_processor: dict[str, ProcessorInfo],
    report: ReconcileReport,
) -> None:
    async with service.lock(session_id):
        record = await service.registry.call(service.registry.get, session_id)
        if record is None:
            return
        info = by_processor.get(record.processor_id)
        if record.status in _ASLEEP:
            if info is not None:
                await service.remove_container(record.processor_id)
            return
        if info is None or info.status != "running":
            # The listing may predate a create or wake that finished meanwhile: ask again.
            info = await asyncio.to_thread(service.containers.get_processor, record.processor_id)
        if info is not None and info.status in SUSPENDED_STATUSES:
            report.suspended.append(record.session_id)
            return
        if info is not None and info.status == "running":
            if record.session_id not in service.routes:
                await service.mark_running(record, info)
                report.adopted.append(record.session_id)
            return
        await service.unroute(record.session_id)
        if info is not None:
            await service.remove_container(record.processor_id)
        await service.registry.call(
            service.registry.put,
            record.with_changes(
                status="stopped", snapshot=None, url=None, internal_url=None, token=None
            ),
        )
        report.vanished.append(record.session_id)
