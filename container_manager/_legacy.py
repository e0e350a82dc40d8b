"""What only containers and state directories of earlier versions need, kept apart so that it
goes in one deletion once none are left.

* A container made before deployment labels carries none: named by its processor id it is
  still this manager's, so an upgraded manager routes and replaces its sessions' old
  containers (another deployment's are never taken; README: Upgrading).
* A state directory from before labels were the truth holds `processors.sqlite3`: its orphan
  first sightings are kept, and it is renamed `processors.sqlite3.migrated` (for the operator).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path

from .backend import Backend
from .models import ContainerState
from .settings import ContainerSettings
from .spec import LABEL_DEPLOYMENT, LABEL_PROCESSOR, selector

_PROCESSORS_FILE = "processors.sqlite3"


def containers_of(
    backend: Backend, settings: ContainerSettings, processor_id: str
) -> list[ContainerState]:
    """The processor's containers of this deployment, and one that carries no deployment."""
    wanted = {**selector(settings), LABEL_PROCESSOR: processor_id}
    del wanted[LABEL_DEPLOYMENT]
    mine = settings.deployment
    return [s for s in backend.find(wanted) if s.labels.get(LABEL_DEPLOYMENT, mine) == mine]


def owner_of(settings: ContainerSettings, labels: Mapping[str, str]) -> dict[str, str]:
    """The owner labels to remove a container by: without the deployment's on an old one."""
    owner = selector(settings)
    if LABEL_DEPLOYMENT not in labels:
        del owner[LABEL_DEPLOYMENT]
    return owner


def migrate_orphan_sightings(state_dir: Path, mark: Callable[[str, float], None]) -> None:
    legacy = state_dir / _PROCESSORS_FILE
    if not legacy.exists():
        return
    with closing(sqlite3.connect(legacy, timeout=10.0)) as old:
        tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master")}
        rows = (
            old.execute("SELECT volume, since FROM orphan_volumes").fetchall()
            if "orphan_volumes" in tables
            else []
        )
    for volume, since in rows:
        mark(str(volume), float(since))
    legacy.rename(legacy.with_name(f"{_PROCESSORS_FILE}.migrated"))
