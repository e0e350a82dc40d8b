"""The registry keeps every committed record across a reopen of the same file."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from session_manager.errors import DatabaseError
from session_manager.registry import SCHEMA_VERSION, SessionRecord, SessionRegistry


def _record(session_id: str, **changes: object) -> SessionRecord:
    base = SessionRecord(
        session_id=session_id,
        processor_id=f"p{session_id}",
        user_id="alice",
        status="running",
        created_at=100.0,
        last_activity=100.0,
        genes={"max_pattern_length": 3},
        ttl_seconds=60,
        expires_at=160.0,
        url="http://127.0.0.1:1",
        internal_url="http://127.0.0.1:1",
        token="t",
    )
    return base.with_changes(**changes)


def test_records_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    registry = SessionRegistry(path)
    registry.put(_record("a"))
    registry.put(_record("b", status="hibernated", snapshot=b'{"stm": [["x"]]}', user_id="bob"))
    registry.close()

    reopened = SessionRegistry(path)
    assert reopened.get("a") == _record("a")
    # Records never carry their snapshot; it is read on its own, on wake.
    assert reopened.get("b") == _record("b", status="hibernated", user_id="bob")
    assert reopened.snapshot("b") == b'{"stm": [["x"]]}'
    assert reopened.snapshot("a") is None
    assert [r.session_id for r in reopened.all(user_id="bob")] == ["b"]
    assert reopened.count_by_status()["hibernated"] == 1


def test_wal_and_full_sync(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    assert registry._open().execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert registry._open().execute("PRAGMA synchronous").fetchone() == (2,)


def test_touch_many_never_moves_time_back(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry.put(_record("a", last_activity=500.0))
    registry.put(_record("b", last_activity=500.0))
    registry.touch_many([("a", 400.0), ("b", 700.0), ("gone", 900.0)])
    assert registry.get("a").last_activity == 500.0  # type: ignore[union-attr]
    assert registry.get("b").last_activity == 700.0  # type: ignore[union-attr]


def test_delete(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry.put(_record("a"))
    registry.delete("a")
    assert registry.get("a") is None
    assert registry.all() == []


def test_ids_oldest_first(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry.put(_record("a"))
    registry.put(_record("b", created_at=50.0))
    assert registry.ids() == [r.session_id for r in registry.all()] == ["b", "a"]
    registry.delete("b")
    assert registry.ids() == ["a"]


_OLD_SCHEMA = """
CREATE TABLE sessions (
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


def test_a_file_of_the_old_schema_is_migrated_without_losing_sessions(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    with sqlite3.connect(path) as old:  # as the previous version wrote it
        old.execute("PRAGMA journal_mode=WAL")
        old.execute(_OLD_SCHEMA)
        old.executemany(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "h",
                    "ph",
                    "bob",
                    '{"max_pattern_length": 3}',
                    None,
                    "hibernated",
                    1.0,
                    2.0,
                    None,
                    None,
                    None,
                    None,
                    b'{"stm": [["x"]]}',
                ),
                (
                    "r",
                    "pr",
                    None,
                    "{}",
                    60,
                    "running",
                    3.0,
                    4.0,
                    63.0,
                    "http://127.0.0.1:1",
                    "http://127.0.0.1:1",
                    "t",
                    None,
                ),
            ],
        )
    old.close()

    registry = SessionRegistry(path)
    assert [r.session_id for r in registry.all()] == ["h", "r"]
    assert registry.get("h") == SessionRecord(
        session_id="h",
        processor_id="ph",
        user_id="bob",
        status="hibernated",
        created_at=1.0,
        last_activity=2.0,
        genes={"max_pattern_length": 3},
    )
    assert registry.get("r") == _record(
        "r",
        processor_id="pr",
        user_id=None,
        genes={},
        created_at=3.0,
        last_activity=4.0,
        expires_at=63.0,
    )
    assert registry.snapshot("h") == b'{"stm": [["x"]]}'
    columns = {row[1] for row in registry._open().execute("PRAGMA table_info(sessions)")}
    assert "snapshot" not in columns  # listings cannot read snapshots any more
    registry.close()
    assert SessionRegistry(path).snapshot("h") == b'{"stm": [["x"]]}'  # idempotent reopen


def test_snapshot_is_kept_only_while_hibernated(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    hibernated = _record("a", status="hibernated", snapshot=b"{}")
    registry.put(hibernated)
    registry.put(registry.get("a").with_changes(last_activity=200.0))  # type: ignore[union-attr]
    assert registry.snapshot("a") == b"{}"  # a record read back does not drop it
    registry.put(_record("a", status="running"))  # woken: the snapshot is spent
    assert registry.snapshot("a") is None
    registry.put(hibernated)
    registry.delete("a")
    assert registry.snapshot("a") is None


def test_state_directory_and_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    path = state / "sessions.sqlite3"
    path.touch(mode=0o644)
    registry = SessionRegistry(path)
    registry.put(_record("a"))
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("sessions.sqlite3", "sessions.sqlite3-wal", "sessions.sqlite3-shm"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    registry.close()
    fresh = SessionRegistry(tmp_path / "new" / "sessions.sqlite3")
    fresh.put(_record("b"))
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE(fresh.path.stat().st_mode) == 0o600


_V2_SCHEMA = """
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY, processor_id TEXT NOT NULL UNIQUE, user_id TEXT,
    genes TEXT NOT NULL DEFAULT '{}', ttl_seconds INTEGER, status TEXT NOT NULL,
    created_at REAL NOT NULL, last_activity REAL NOT NULL, expires_at REAL, url TEXT,
    internal_url TEXT, token TEXT
);
CREATE TABLE snapshots (session_id TEXT PRIMARY KEY, state BLOB NOT NULL);
PRAGMA user_version = 2;
"""


def test_a_version_2_file_gains_default_sessions_and_expiries(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(_V2_SCHEMA)
        old.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("h", "ph", "bob", "{}", None, "hibernated", 1.0, 2.0, None, None, None, None),
        )
        old.execute("INSERT INTO snapshots VALUES ('h', x'7b7d')")
    old.close()
    registry = SessionRegistry(path)
    assert registry.get("h") == SessionRecord("h", "ph", "bob", "hibernated", 1.0, 2.0)
    assert registry.snapshot("h") == b"{}"
    registry.put(_record("d", default_of="operator"))
    assert registry.default_session("operator") == _record("d", default_of="operator")
    with pytest.raises(sqlite3.IntegrityError):  # one default session per caller
        registry.put(_record("e", processor_id="pe", default_of="operator"))
    assert registry._open().execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    registry.close()


def test_a_ttl_deletion_is_remembered_until_forgotten(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry.put(_record("a"))
    registry.put(_record("b", processor_id="pb"))
    registry.delete("a", expired_at=160.0)
    registry.delete("b")  # an API deletion is not an expiry
    assert (registry.get("a"), registry.expired_at("a"), registry.expired_at("b")) == (
        None,
        160.0,
        None,
    )
    registry.close()
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    assert registry.expired_at("a") == 160.0  # durable like the records
    registry.forget_expired(160.0)
    assert registry.expired_at("a") == 160.0  # not before `before`
    registry.forget_expired(160.5)
    assert registry.expired_at("a") is None
    registry.close()


async def test_a_failing_database_is_a_database_error_in_the_managers_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry._open().execute("DROP TABLE sessions")  # what a damaged file would do
    for call in (registry.call(registry.get, "a"), registry.call(registry.put, _record("a"))):
        with pytest.raises(DatabaseError) as raised:
            await call
        assert (raised.value.status, raised.value.code) == (503, "KATO_DATABASE_ERROR")
        assert "sessions" not in raised.value.message  # SQLite's words are the log's only
    assert "no such table: sessions" in caplog.text
    registry.close()


def _listed(registry: SessionRegistry, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        records, after = registry.page(2, after, **filters)  # type: ignore[arg-type]
        pages.append([r.session_id for r in records])
        if after is None:
            return pages


def test_pages_follow_creation_then_id_and_filter_in_the_query(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry.put(_record("c", processor_id="pc", created_at=1.0, user_id="al_ce"))
    registry.put(_record("b", processor_id="pb", created_at=1.0, status="hibernated"))
    registry.put(_record("a", processor_id="pa", created_at=2.0, user_id="bob"))
    registry.put(_record("d", processor_id="pd", created_at=0.5, user_id=None))
    assert _listed(registry) == [["d", "b"], ["c", "a"]]
    assert _listed(registry, user_id="alice") == [["b"]]
    assert _listed(registry, status="running") == [["d", "c"], ["a"]]
    assert _listed(registry, user_id="bob", status="running") == [["a"]]
    assert _listed(registry, session_id="c") == [["c"]]
    assert _listed(registry, user_contains="L_C") == [["c"]]  # `_` is no wildcard; any case
    assert _listed(registry, user_contains="l") == [["b", "c"]]
    registry.close()


def test_the_listing_queries_use_indexes(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    db = registry._open()
    for sql, index in (
        ("WHERE (created_at, session_id) > (1, 'a') ORDER BY created_at, session_id", "created"),
        ("WHERE user_id = 'u' ORDER BY created_at, session_id", "sessions_user"),
        ("WHERE user_id = 'u' AND +status = 'running' ORDER BY created_at", "sessions_user"),
        ("WHERE status = 'running' ORDER BY created_at, session_id", "sessions_status"),
        ("WHERE status = 'running' OR expires_at <= 5", "sessions_expiry"),
    ):
        plan = " ".join(
            row[3] for row in db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM sessions {sql}")
        )
        assert index in plan and "TEMP B-TREE" not in plan, (sql, plan)
    registry.close()


def test_the_reaper_reads_running_and_expired_records_only(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / "sessions.sqlite3")
    registry.put(_record("run", processor_id="p1", expires_at=None))
    registry.put(_record("old", processor_id="p2", status="hibernated", expires_at=50.0))
    registry.put(_record("now", processor_id="p3", status="stopped", expires_at=100.0))
    registry.put(_record("later", processor_id="p4", status="hibernated", expires_at=101.0))
    registry.put(_record("never", processor_id="p5", status="hibernated", expires_at=None))
    assert sorted(r.session_id for r in registry.reapable(100.0)) == ["now", "old", "run"]
    registry.put(_record("new", processor_id="p6", status="starting"))
    assert sorted(registry.to_reconcile(["p5", "p1", "elsewhere"])) == [
        ("never", "p5", "hibernated"),  # its processor has a container
        ("new", "p6", "starting"),
        ("run", "p1", "running"),
    ]
    assert sorted(registry.to_reconcile([])) == [
        ("new", "p6", "starting"),
        ("run", "p1", "running"),
    ]
    assert registry.ids("stopped") == ["now"]
    registry.close()


def test_a_version_3_file_gains_the_listing_indexes(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    registry = SessionRegistry(path)
    registry.put(_record("a"))
    db = registry._open()
    for name in ("sessions_created", "sessions_user", "sessions_status", "sessions_expiry"):
        db.execute(f"DROP INDEX {name}")
    db.execute("PRAGMA user_version = 3")
    registry.close()
    registry = SessionRegistry(path)
    names = {row[0] for row in registry._open().execute("SELECT name FROM sqlite_master")}
    assert {"sessions_created", "sessions_user", "sessions_status", "sessions_expiry"} <= names
    assert registry.get("a") == _record("a")
    registry.close()
