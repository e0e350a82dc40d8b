"""Make records and containers agree: at start-up and every `KATO_RECONCILE_INTERVAL`.

- a container a record claims and that runs is adopted (routed again after a restart);
- a managed container with a `kato.session_id` label that no record claims is removed with
  its volume (containers without that label belong to `katoctl spawn` and are left alone);
- a running/starting record whose container vanished becomes `stopped`: the next request
  recreates the container on the same data volume (patterns kept, no state snapshot);
- a container left behind by a wake that never finished (record still hibernated/stopped)
  is removed, keeping its volume, so the next request wakes the session properly.
Each session is handled under its lock and re-read there, so in-flight operations win.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from container_manager import ProcessorInfo, ProcessorNotFoundError

from .sessions import SessionService

__all__ = ["ReconcileReport", "reconcile"]

log = logging.getLogger("session_manager.reconcile")


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)


async def reconcile(service: SessionService) -> ReconcileReport:
    report = ReconcileReport()
    infos = await asyncio.to_thread(service.containers.list_processors)
    by_processor = {info.processor_id: info for info in infos if info.session_id}
    for info in by_processor.values():
        await _remove_if_orphan(service, info, report)
    for session_id in service.registry.ids():  # each record is read under its lock
        await _check_session(service, session_id, by_processor, report)
    if report.adopted or report.orphans_removed or report.vanished:
        log.info(
            "reconciled",
            extra={
                "adopted": report.adopted,
                "orphans_removed": report.orphans_removed,
                "vanished": report.vanished,
            },
        )
    return report


async def _remove_if_orphan(
    service: SessionService, info: ProcessorInfo, report: ReconcileReport
) -> None:
    session_id = info.session_id or ""
    async with service.lock(session_id):
        record = service.registry.get(session_id)
        if record is not None and record.processor_id == info.processor_id:
            return
        try:
            await asyncio.to_thread(service.containers.remove_processor, info.processor_id)
        except ProcessorNotFoundError:
            return
    report.orphans_removed.append(info.processor_id)


async def _check_session(
    service: SessionService,
    session_id: str,
    by_processor: dict[str, ProcessorInfo],
    report: ReconcileReport,
) -> None:
    async with service.lock(session_id):
        record = service.registry.get(session_id)
        if record is None:
            return
        info = by_processor.get(record.processor_id)
        if record.status in ("hibernated", "stopped"):
            if info is not None:
                await service.remove_container(record.processor_id)
            return
        if info is None or info.status != "running":
            # The listing may predate a create or wake that finished meanwhile: ask again.
            info = await asyncio.to_thread(service.containers.get_processor, record.processor_id)
        if info is not None and info.status == "running":
            if record.session_id not in service.routes:
                service.mark_running(record, info)
                report.adopted.append(record.session_id)
            return
        service.routes.pop(record.session_id, None)
        if info is not None:
            await service.remove_container(record.processor_id)
        service.registry.put(
            record.with_changes(
                status="stopped", snapshot=None, url=None, internal_url=None, token=None
            )
        )
        report.vanished.append(record.session_id)
