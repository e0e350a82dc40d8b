"""Durable session records in SQLite (WAL, synchronous=FULL): the manager's memory.

Every change is committed before the API answers, so a `kill -9` loses nothing a client was
told. One connection guarded by a lock: writes are few (create, wake, hibernate, delete,
periodic activity flush), never one per proxied request.

State snapshots (the `GET /state` body of a hibernated session, megabytes for a large STM)
live in their own table and are read only on wake: listing records never touches them (a
42 MB snapshot read by every reaper pass held the event loop for ~200 ms). The async side
of the manager calls this class through `call` (a database failure there is a 503
`KATO_DATABASE_ERROR`, its text logged only), on one dedicated thread, so the event loop
never waits for the disk; writes arriving together share one commit (group_commit.py), each
still answered only once it is on disk. The directory is 0700 and the files (with
`-wal`/`-shm`) 0600: records hold bearer tokens.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from .errors import DatabaseError
from .group_commit import GroupCommit

__all__ = ["STATUSES", "PageKey", "SessionRecord", "SessionRegistry", "SessionStatus"]

log = logging.getLogger("session_manager.registry")

T = TypeVar("T")

#: starting: record written, container being made; running: routed (a paused container is
#: still `running`: the pause is the route's); hibernated: container removed after a state
#: snapshot; stopped: container vanished, recreate from the volume alone.
SessionStatus = Literal["starting", "running", "hibernated", "stopped"]
STATUSES: tuple[str, ...] = get_args(SessionStatus)
#: Where a listing is in the registry's order: (created_at, session_id) of the last record.
PageKey = tuple[float, str]

#: 1: snapshots in a `sessions.snapshot` column; 2: snapshots in their own table;
#: 3: `sessions.default_of` (default sessions) and the `expired` table (410 after a TTL);
#: 4: the indexes of keyset listing (`page`) and of the reaper's and metrics' queries.
SCHEMA_VERSION = 4

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
    "default_of",
)

_CREATED_AT = _COLUMNS.index("created_at")
#: What LIKE would take for a wildcard (or its escape) in a searched user id.
_LIKE_SPECIAL = re.compile(r"([%_\\])")

_SESSIONS = """
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
    default_of TEXT UNIQUE
)
"""
_SNAPSHOTS = """
CREATE TABLE IF NOT EXISTS snapshots (
    session_id TEXT PRIMARY KEY,
    state BLOB NOT NULL
)
"""
#: Sessions deleted because their TTL passed, kept for `KATO_EXPIRED_RETENTION` so that their
#: id answers 410 KATO_SESSION_EXPIRED instead of 404 for that while.
_EXPIRED = """
CREATE TABLE IF NOT EXISTS expired (
    session_id TEXT PRIMARY KEY,
    expired_at REAL NOT NULL
)
"""
#: Keyset listing in (created_at, session_id) order, alone or within one user's or one status's
#: sessions; the per-user one also serves quota counts, the per-status one the status counts
#: and the reaper's running sessions, `sessions_expiry` the reaper's expired ones.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_at, session_id)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, created_at, session_id)",
    "CREATE INDEX IF NOT EXISTS sessions_status ON sessions (status, created_at, session_id)",
    "CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at)",
)
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class SessionRecord:
    """One session. Times are Unix seconds.

    `snapshot` is the raw `GET /state` body to store with a hibernated record; records read
    back never carry it (it is read on wake only, with `SessionRegistry.snapshot`).
    `default_of` names the caller whose default session this is (see default_sessions.py):
    at most one record per caller.
    """

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
    default_of: str | None = None
    snapshot: bytes | None = None

    def with_changes(self, **changes: Any) -> SessionRecord:
        return replace(self, **changes)


class SessionRegistry:
    """CRUD on `<state_dir>/sessions.sqlite3`; reopening the file gives back every record."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, _PRIVATE_DIR)
        # Created private before SQLite opens it; SQLite gives -wal/-shm the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, _PRIVATE_FILE))
        self.path = path
        self._lock = threading.Lock()
        self._writes = GroupCommit(self._open, self._lock, "registry")
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        _migrate(self._db)
        for name in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
            if name.exists():
                os.chmod(name, _PRIVATE_FILE)

    @property
    def is_open(self) -> bool:
        return self._db is not None

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """Run one of this registry's methods on its own thread (off the event loop); a
        write (`put`, `delete`, `touch_many`) shares its commit with the writes queued beside
        it (session_manager.group_commit) and returns once that commit is on disk."""
        statements = _GROUPED.get(getattr(method, "__func__", None))
        try:
            if statements is not None and getattr(method, "__self__", None) is self:
                return cast(T, await self._writes.submit(statements, *args))
            return await self._writes.read(method, *args)
        except sqlite3.Error as exc:
            name = getattr(method, "__name__", "call")
            log.error("session registry failed in %s: %s", name, exc)
            raise DatabaseError("the session registry failed (see the manager's log)") from exc

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._writes.close()

    def put(self, record: SessionRecord) -> None:
        """Insert or replace the whole record (committed on return). A hibernated record
        stores `record.snapshot` when given (keeps the stored one otherwise); any other
        status drops the snapshot, which only a wake from hibernation may restore."""
        self._writes.run(_put, record)

    def get(self, session_id: str) -> SessionRecord | None:
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM sessions WHERE session_id = ?", (session_id,)
        )
        return _from_row(rows[0]) if rows else None

    def snapshot(self, session_id: str) -> bytes | None:
        """The state stored when the session was hibernated (None if there is none)."""
        rows = self._query("SELECT state FROM snapshots WHERE session_id = ?", (session_id,))
        return bytes(rows[0][0]) if rows else None

    def all(self, user_id: str | None = None, status: str | None = None) -> list[SessionRecord]:
        """Every readable record (or one user's, or one status's), oldest first; an unreadable
        row is logged and skipped. Unbounded: the API lists in pages (`page`)."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM sessions"
        where, params = [], []
        for column, value in (("user_id", user_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._readable(self._query(sql + " ORDER BY created_at", tuple(params)))

    def page(
        self,
        limit: int,
        after: PageKey | None = None,
        *,
        user_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_contains: str | None = None,
    ) -> tuple[list[SessionRecord], PageKey | None]:
        """Up to `limit` records after `after` in (created_at, session_id) order, and the key
        to pass as `after` for the next page (None after the last). An indexed keyset query:
        every filter is in the SQL, so a page is short only at the end (or by an unreadable
        row, logged and skipped). `user_contains`: a substring of the `user_id` (the
        dashboard's search box; a scan of the order index, for the operator only)."""
        where: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if status is not None:  # within one user's sessions, their index is the narrower
            where.append("+status = ?" if user_id is not None else "status = ?")
            params.append(status)
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if user_contains:
            where.append("user_id LIKE ? ESCAPE '\\'")
            params.append("%" + _LIKE_SPECIAL.sub(r"\\\1", user_contains) + "%")
        if after is not None:
            where.append("(created_at, session_id) > (?, ?)")
            params.extend(after)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._query(sql + " ORDER BY created_at, session_id LIMIT ?", (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        next_key = (float(rows[-1][_CREATED_AT]), str(rows[-1][0])) if more else None
        return self._readable(rows), next_key

    def reapable(self, now: float) -> list[SessionRecord]:
        """What a reaper pass looks at: running sessions (idle → paused or hibernated) and
        those whose TTL has passed, oldest first; never the hibernated multitude."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM sessions"
        where = " WHERE status = 'running' OR expires_at <= ? ORDER BY created_at, session_id"
        return self._readable(self._query(sql + where, (now,)))

    def to_reconcile(self, housed: Iterable[str]) -> list[tuple[str, str, str]]:
        """(session_id, processor_id, status) of the sessions reconcile must look at: those
        whose status says they have a container (`starting`, `running`), and those whose
        processor is in `housed` (the processors that have one). Two indexed lookups, so a
        pass costs the running sessions and the containers, never the hibernated multitude."""
        awake = [status for status in STATUSES if status not in ("hibernated", "stopped")]
        rows = self._query(
            "SELECT session_id, processor_id, status FROM sessions "
            f"WHERE status IN ({', '.join('?' for _ in awake)}) "
            "UNION SELECT session_id, processor_id, status FROM sessions "
            "WHERE processor_id IN (SELECT value FROM json_each(?))",
            (*awake, json.dumps(list(housed))),
        )
        return [(str(sid), str(pid), str(status)) for sid, pid, status in rows]

    def count_of(self, user_id: str) -> int:
        """How many sessions `user_id` owns, whatever their status."""
        rows = self._query("SELECT COUNT(*) FROM sessions WHERE user_id = ?", (user_id,))
        return int(rows[0][0])

    def processor_ids(self) -> set[str]:
        """Every session's processor id: what the sessions claim from the container manager
        (read alone, so a record unreadable for `all` still claims its processor)."""
        return {pid for (pid,) in self._query("SELECT processor_id FROM sessions", ())}

    def ids(self, status: str | None = None) -> list[str]:
        """Every session id (or those of one status), without reading the records."""
        if status is None:
            rows = self._query("SELECT session_id FROM sessions ORDER BY created_at", ())
        else:
            sql = "SELECT session_id FROM sessions WHERE status = ? ORDER BY created_at"
            rows = self._query(sql, (status,))
        return [str(session_id) for (session_id,) in rows]

    def delete(self, session_id: str, expired_at: float | None = None) -> None:
        """Drop the record and its snapshot; with `expired_at` (a TTL deletion) remember the
        id as expired, in the same transaction."""
        self._writes.run(_delete, session_id, expired_at)

    def default_session(self, caller: str) -> SessionRecord | None:
        """The default session of `caller`, if it has one."""
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM sessions WHERE default_of = ?", (caller,)
        )
        return _from_row(rows[0]) if rows else None

    def expired_at(self, session_id: str) -> float | None:
        """When the session was deleted for its TTL, if it was and is still remembered."""
        rows = self._query("SELECT expired_at FROM expired WHERE session_id = ?", (session_id,))
        return float(rows[0][0]) if rows else None

    def forget_expired(self, before: float) -> None:
        """Forget sessions expired before `before` (their ids answer 404 from then on)."""
        self._writes.run(_forget_expired, before)

    def touch_many(self, activity: Iterable[tuple[str, float]]) -> None:
        """Flush coalesced last-activity times in one transaction (never moves time back)."""
        self._writes.run(_touch_many, activity)

    def owned_counts(self) -> list[int]:
        """How many sessions each user owns (one number per user_id, none for unowned)."""
        rows = self._query(
            "SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL GROUP BY user_id", ()
        )
        return [int(count) for (count,) in rows]

    def count_by_status(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in self._query(
            "SELECT status, COUNT(*) FROM sessions GROUP BY status", ()
        ):
            counts[str(status)] = int(count)
        return counts

    @staticmethod
    def _readable(rows: list[tuple[Any, ...]]) -> list[SessionRecord]:
        """The records of `rows`; an unreadable row is logged and skipped."""
        records = []
        for row in rows:
            try:
                records.append(_from_row(row))
            except (TypeError, ValueError) as exc:
                log.error("unreadable session record: %s", exc, extra={"session_id": row[0]})
        return records

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._open().execute(sql, params).fetchall())

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("session registry is closed")
        return self._db


#: An upsert on the session id only: a record whose processor id or `default_of` is another
#: record's raises (`INSERT OR REPLACE` would silently delete that other record).
_UPSERT = (
    f"INSERT INTO sessions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    "ON CONFLICT (session_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS[1:])
)


def _put(db: sqlite3.Connection, record: SessionRecord) -> None:
    db.execute(_UPSERT, _to_row(record))
    if record.status != "hibernated":
        db.execute("DELETE FROM snapshots WHERE session_id = ?", (record.session_id,))
    elif record.snapshot is not None:
        db.execute(
            "INSERT OR REPLACE INTO snapshots (session_id, state) VALUES (?, ?)",
            (record.session_id, record.snapshot),
        )


def _delete(db: sqlite3.Connection, session_id: str, expired_at: float | None = None) -> None:
    db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
    db.execute("DELETE FROM snapshots WHERE session_id = ?", (session_id,))
    if expired_at is not None:
        db.execute(
            "INSERT OR REPLACE INTO expired (session_id, expired_at) VALUES (?, ?)",
            (session_id, expired_at),
        )


def _forget_expired(db: sqlite3.Connection, before: float) -> None:
    db.execute("DELETE FROM expired WHERE expired_at < ?", (before,))


def _touch_many(db: sqlite3.Connection, activity: Iterable[tuple[str, float]]) -> None:
    db.executemany(
        "UPDATE sessions SET last_activity = ? WHERE session_id = ? AND last_activity < ?",
        [(when, session_id, when) for session_id, when in activity],
    )


#: The registry's writes and their statements: what `call` commits as a group.
_GROUPED: dict[Any, Callable[..., None]] = {
    SessionRegistry.put: _put,
    SessionRegistry.delete: _delete,
    SessionRegistry.touch_many: _touch_many,
    SessionRegistry.forget_expired: _forget_expired,
}


def _migrate(db: sqlite3.Connection) -> None:
    """Bring any earlier file to `SCHEMA_VERSION` in one transaction, keeping every session."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_SESSIONS)
        db.execute(_SNAPSHOTS)
        db.execute(_EXPIRED)
        columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
        if "snapshot" in columns:  # version 1: move snapshots out of the records
            db.execute(
                "INSERT OR REPLACE INTO snapshots (session_id, state) "
                "SELECT session_id, snapshot FROM sessions WHERE snapshot IS NOT NULL"
            )
            db.execute("ALTER TABLE sessions DROP COLUMN snapshot")
        if "default_of" not in columns:  # versions 1 and 2 (SQLite cannot add a UNIQUE column)
            db.execute("ALTER TABLE sessions ADD COLUMN default_of TEXT")
            db.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS sessions_default_of ON sessions (default_of)"
            )
        for index in _INDEXES:  # version 4; on a large file this is the one slow step
            db.execute(index)
        if version:
            log.info("session registry migrated", extra={"schema_version": SCHEMA_VERSION})
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


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
        record.default_of,
    )


def _from_row(row: tuple[Any, ...]) -> SessionRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["genes"] = json.loads(values["genes"])
    return SessionRecord(**values)
