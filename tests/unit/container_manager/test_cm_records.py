"""The SQLite record store survives reopening (that is what makes adoption and prune work)."""

from __future__ import annotations

from pathlib import Path

from container_manager.records import ProcessorRecord, RecordStore


def test_put_get_delete_and_reopen(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "state")
    record = ProcessorRecord("p1", "s1", None, "2026-01-01T00:00:00Z", {"sort": False})
    store.put(record)
    reopened = RecordStore(tmp_path / "state")
    assert reopened.get("p1") == record
    assert reopened.ids() == {"p1"}
    reopened.delete("p1")
    assert store.get("p1") is None
    assert (tmp_path / "state" / "processors.sqlite3").is_file()
