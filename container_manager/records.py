"""The manager's memory of the processors it created: a small SQLite file.

Containers carry their own labels, so the records are only needed to tell which managed
containers someone still claims (`prune`) and to remember session, user and config of a
hibernated processor whose container is gone. A second table remembers when each unclaimed data
volume was first seen, which is what the orphan grace period counts from (Docker volume labels
cannot change, and a volume's creation time says nothing about when it lost its record).
A connection per call keeps it safe across threads.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ProcessorRecord", "RecordStore"]


@dataclass(frozen=True)
class ProcessorRecord:
    processor_id: str
    session_id: str | None
    user_id: str | None
    created_at: str
    config: dict[str, Any] = field(default_factory=dict)


class RecordStore:
    """CRUD on `<state_dir>/processors.sqlite3`; the directory is created on first use."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "processors.sqlite3"
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS processors ("
                " processor_id TEXT PRIMARY KEY, session_id TEXT, user_id TEXT,"
                " created_at TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}')"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS orphan_volumes (volume TEXT PRIMARY KEY, since REAL)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def put(self, record: ProcessorRecord) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO processors VALUES (?, ?, ?, ?, ?)",
                (
                    record.processor_id,
                    record.session_id,
                    record.user_id,
                    record.created_at,
                    json.dumps(record.config),
                ),
            )

    def get(self, processor_id: str) -> ProcessorRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT processor_id, session_id, user_id, created_at, config FROM processors"
                " WHERE processor_id = ?",
                (processor_id,),
            ).fetchone()
        if row is None:
            return None
        processor_id, session_id, user_id, created_at, config = row
        return ProcessorRecord(processor_id, session_id, user_id, created_at, json.loads(config))

    def delete(self, processor_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM processors WHERE processor_id = ?", (processor_id,))

    def ids(self) -> set[str]:
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT processor_id FROM processors")}

    def orphan_volumes(self) -> dict[str, float]:
        """Unclaimed volume → Unix time it was first seen unclaimed."""
        with self._connect() as db:
            rows = db.execute("SELECT volume, since FROM orphan_volumes").fetchall()
        return {str(volume): float(since) for volume, since in rows}

    def mark_orphan_volume(self, volume: str, since: float) -> None:
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO orphan_volumes VALUES (?, ?)", (volume, since))

    def forget_orphan_volumes(self, volumes: Iterable[str]) -> None:
        with self._connect() as db:
            db.executemany("DELETE FROM orphan_volumes WHERE volume = ?", [(v,) for v in volumes])
