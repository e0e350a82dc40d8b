"""The orphan sweep behind `KatoContainerManager.prune`: the one orphan rule, and when each
unclaimed data volume was first seen, the one fact the engine cannot hold.

Labels are the truth about containers and volumes, and the caller (the session registry) is the
truth about what is claimed, so the manager keeps no table of its processors. What is left is
the orphan grace period, which counts from the moment a volume was first seen unclaimed: Docker
volume labels cannot change after creation, a volume's creation time says nothing about when it
lost its session, and a manager restart must not restart the count. So a small table in
`<state_dir>/orphans.sqlite3` remembers it, and nothing else (a connection per call keeps it
safe across threads).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import _legacy
from .models import ContainerState, VolumeState
from .spec import LABEL_POOL, LABEL_PROCESSOR, LABEL_SESSION

__all__ = ["OrphanLedger", "PruneReport", "is_orphan", "sweep"]

log = logging.getLogger("container_manager.manager")  # the sweep is the manager's `prune`

_FILE = "orphans.sqlite3"


@dataclass
class PruneReport:
    """What one `prune` did: orphan containers removed, orphan volumes kept or removed."""

    containers_removed: list[str] = field(default_factory=list)
    volumes_kept: list[str] = field(default_factory=list)
    volumes_removed: list[str] = field(default_factory=list)


class OrphanLedger:
    """Unclaimed volume → Unix time it was first seen unclaimed."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / _FILE
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS orphan_volumes (volume TEXT PRIMARY KEY, since REAL)"
            )
        _legacy.migrate_orphan_sightings(state_dir, self.mark)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def pending(self) -> dict[str, float]:
        with self._connect() as db:
            rows = db.execute("SELECT volume, since FROM orphan_volumes").fetchall()
        return {str(volume): float(since) for volume, since in rows}

    def mark(self, volume: str, since: float) -> None:
        """Remember `since` as the first sighting (an earlier one is kept)."""
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO orphan_volumes VALUES (?, ?)", (volume, since))

    def forget(self, volumes: Iterable[str]) -> None:
        with self._connect() as db:
            db.executemany("DELETE FROM orphan_volumes WHERE volume = ?", [(v,) for v in volumes])


def is_orphan(labels: Mapping[str, str], claimed: set[str], housed: set[str]) -> bool:
    """The one orphan rule: nobody claims its processor, and it serves a session or it is
    what a pooled processor left without a container (a refill cut short by a crash between
    volume and container: the pool never reuses an id, so nothing else would ever take it)."""
    processor_id = labels.get(LABEL_PROCESSOR, "")
    if not processor_id or processor_id in claimed:
        return False
    pooled = labels.get(LABEL_POOL) == "true"
    return bool(labels.get(LABEL_SESSION)) or (pooled and processor_id not in housed)


def sweep(
    ledger: OrphanLedger,
    containers: list[ContainerState],
    volumes: list[VolumeState],
    claimed: set[str],
    *,
    grace: float,
    clock: Callable[[], float],
    remove_container: Callable[[ContainerState], object],
    remove_volume: Callable[[str, str], bool],
) -> PruneReport:
    """Remove orphan containers at once; keep each orphan volume for `grace` seconds from its
    first sighting (recorded in `ledger`), then `remove_volume(volume, processor id)` it."""
    housed = {state.labels.get(LABEL_PROCESSOR, "") for state in containers}
    report = PruneReport()
    for state in containers:
        if not is_orphan(state.labels, claimed, housed):
            continue
        remove_container(state)
        report.containers_removed.append(state.container_id)
        log.warning(
            "orphan container removed; its data volume is kept for the orphan grace period",
            extra={
                "processor_id": state.labels[LABEL_PROCESSOR],
                "container_id": state.container_id,
            },
        )
    now = clock()
    pending = ledger.pending()
    unclaimed = {
        volume.name: volume.labels[LABEL_PROCESSOR]
        for volume in volumes
        if is_orphan(volume.labels, claimed, housed)
    }
    ledger.forget(set(pending) - set(unclaimed))
    for name, processor_id in sorted(unclaimed.items()):
        since = pending.get(name)
        if since is None:
            ledger.mark(name, now)
            log.warning(
                "orphan data volume kept for %.0f s before removal",
                grace,
                extra={"processor_id": processor_id, "volume": name},
            )
        if since is None or now - since < grace:
            report.volumes_kept.append(name)
        elif remove_volume(name, processor_id):
            report.volumes_removed.append(name)
    return report
