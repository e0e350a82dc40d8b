"""The registry keeps every committed record across a reopen of the same file."""

from __future__ import annotations

from pathlib import Path

from session_manager.registry import SessionRecord, SessionRegistry


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
