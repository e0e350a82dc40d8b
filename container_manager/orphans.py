"""When each unclaimed data volume was first seen: the one fact the engine cannot hold.

Labels are the truth about containers and volumes, and the caller (the session registry) is the
truth about what is claimed, so the manager keeps no table of its processors. What is left is
the orphan grace period, which counts from the moment a volume was first seen unclaimed: Docker
volume labels cannot change after creation, a volume's creation time says nothing about when it
lost its session, and a manager restart must not restart the count. So this small table in
`<state_dir>/orphans.sqlite3` remembers it, and nothing else.

A state directory written before (`processors.sqlite3`, which also repeated every processor's
session, user and config) is migrated on first open: its first sightings are kept, and the file
is renamed `processors.sqlite3.migrated` (kept for the operator; nothing reads it again).
A connection per call keeps it safe across threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

__all__ = ["OrphanLedger"]

_FILE = "orphans.sqlite3"
_LEGACY_FILE = "processors.sqlite3"


class OrphanLedger:
    """Unclaimed volume → Unix time it was first seen unclaimed."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / _FILE
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS orphan_volumes (volume TEXT PRIMARY KEY, since REAL)"
            )
        legacy = state_dir / _LEGACY_FILE
        if legacy.exists():
            self._migrate(legacy)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _migrate(self, legacy: Path) -> None:
        with closing(sqlite3.connect(legacy, timeout=10.0)) as old:
            tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master")}
            rows = (
                old.execute("SELECT volume, since FROM orphan_volumes").fetchall()
                if "orphan_volumes" in tables
                else []
            )
        for volume, since in rows:
            self.mark(str(volume), float(since))
        legacy.rename(legacy.with_name(f"{_LEGACY_FILE}.migrated"))

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
