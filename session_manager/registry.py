"""Durable session records in SQLite (WAL, synchronous=FULL): the manager's memory.

Every change is committed before the API answers, so a `kill -9` loses nothing a client was
told. One connection guarded by a lock: writes are few (create, wake, hibernate, delete,
periodic activity flush), never one per proxied request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["STATUSES", "SessionRecord", "SessionRegistry"]

#: starting: record written, container being made; running: routed; hibernated: container
#: removed after a state snapshot; stopped: container vanished, recreate from the volume alone.
STATUSES = ("starting", "running", "hibernated", "stopped")

_COLUMNS = (
    "session_id",
    "processor_id",
    "user_id",
    "genes",
    "ttl_seconds",
    "status",
    "created_at",
    "last_activity",
    "expires_at",
    "url",
    "internal_url",
    "token",
    "snapshot",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    processor_id TEXT NOT NULL UNIQUE,
    user_id TEXT,
    genes TEXT NOT NULL DEFAULT '{}',
    ttl_seconds INTEGER,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_activity REAL NOT NULL,
    expires_at REAL,
    url TEXT,
    internal_url TEXT,
    token TEXT,
    snapshot BLOB
)
"""


@dataclass(frozen=True)
class SessionRecord:
    """One session. Times are Unix seconds; `snapshot` is the raw `GET /state` body."""

    session_id: str
    processor_id: str
    user_id: str | None
    status: str
    created_at: float
    last_activity: float
    genes: dict[str, Any] = field(default_factory=dict)
    ttl_seconds: int | None = None
    expires_at: float | None = None
    url: str | None = None
    internal_url: str | None = None
    token: str | None = None
    snapshot: bytes | None = None

    def with_changes(self, **changes: Any) -> SessionRecord:
        return replace(self, **changes)


class SessionRegistry:
    """CRUD on `<state_dir>/sessions.sqlite3`; reopening the file gives back every record."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    @property
    def is_open(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def put(self, record: SessionRecord) -> None:
        """Insert or replace the whole record (committed on return)."""
        values = _to_row(record)
        marks = ", ".join("?" for _ in _COLUMNS)
        self._execute(
            f"INSERT OR REPLACE INTO sessions ({', '.join(_COLUMNS)}) VALUES ({marks})", values
        )

    def get(self, session_id: str) -> SessionRecord | None:
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM sessions WHERE session_id = ?", (session_id,)
        )
        return _from_row(rows[0]) if rows else None

    def all(self, user_id: str | None = None) -> list[SessionRecord]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM sessions"
        if user_id is None:
            return [_from_row(row) for row in self._query(sql + " ORDER BY created_at", ())]
        sql += " WHERE user_id = ? ORDER BY created_at"
        return [_from_row(row) for row in self._query(sql, (user_id,))]

    def ids(self) -> list[str]:
        """Every session id, without reading the records (snapshots can be large)."""
        rows = self._query("SELECT session_id FROM sessions ORDER BY created_at", ())
        return [str(session_id) for (session_id,) in rows]

    def delete(self, session_id: str) -> None:
        self._execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    def touch_many(self, activity: Iterable[tuple[str, float]]) -> None:
        """Flush coalesced last-activity times in one transaction (never moves time back)."""
        rows = [(when, session_id, when) for session_id, when in activity]
        if not rows:
            return
        with self._lock:
            db = self._open()
            db.execute("BEGIN")
            db.executemany(
                "UPDATE sessions SET last_activity = ? WHERE session_id = ? AND last_activity < ?",
                rows,
            )
            db.execute("COMMIT")

    def count_by_status(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in self._query(
            "SELECT status, COUNT(*) FROM sessions GROUP BY status", ()
        ):
            counts[str(status)] = int(count)
        return counts

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._open().execute(sql, params)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._open().execute(sql, params).fetchall())

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("session registry is closed")
        return self._db


def _to_row(record: SessionRecord) -> tuple[Any, ...]:
    return (
        record.session_id,
        record.processor_id,
        record.user_id,
        json.dumps(record.genes),
        record.ttl_seconds,
        record.status,
        record.created_at,
        record.last_activity,
        record.expires_at,
        record.url,
        record.internal_url,
        record.token,
        record.snapshot,
    )


def _from_row(row: tuple[Any, ...]) -> SessionRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["genes"] = json.loads(values["genes"])
    return SessionRecord(**values)
