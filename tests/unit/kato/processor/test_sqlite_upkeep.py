"""SQLite WAL checkpoints run in ``upkeep`` (after the answer), not inside a request's commit."""

from __future__ import annotations

from pathlib import Path

from kato.processor import KatoProcessor, Observation, ProcessorConfig
from kato.processor.store import sqlite
from kato.processor.store.sqlite import SQLiteStore


def _wal_bytes(store: SQLiteStore) -> int:
    """The WAL file's size (a checkpoint probe would itself checkpoint)."""
    wal = store.path.with_name(store.path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_upkeep_is_due_after_checkpoint_every_commits(tmp_path: Path) -> None:
    processor = KatoProcessor(ProcessorConfig("p"), SQLiteStore(tmp_path / "p.sqlite3"))
    store = processor._store
    assert not store.upkeep_due
    for index in range(sqlite.CHECKPOINT_EVERY):
        processor.observe(Observation([f"s{index}"], [], {}, f"id-{index}"))
    assert store.upkeep_due and processor.upkeep_due
    before = processor.export_state()
    processor.upkeep()
    assert not store.upkeep_due
    assert processor.export_state() == before  # upkeep changes nothing a read returns
    processor.close()
    reopened = KatoProcessor(ProcessorConfig("p"), SQLiteStore(tmp_path / "p.sqlite3"))
    assert reopened.time == sqlite.CHECKPOINT_EVERY
    assert reopened.export_state() == before
    reopened.close()


def test_the_checkpoint_is_not_run_inside_a_commit(tmp_path: Path) -> None:
    """Below the backstop, SQLite's own checkpoint never runs: the WAL only grows."""
    store_path = tmp_path / "p.sqlite3"
    processor = KatoProcessor(ProcessorConfig("p"), SQLiteStore(store_path))
    store = processor._store
    sizes = []
    for index in range(300):
        processor.observe(Observation([f"s{index}", "x"], [], {}, f"id-{index}"))
        sizes.append(_wal_bytes(store))
    assert sizes == sorted(sizes)
    store.upkeep()
    checkpointed = store._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert checkpointed[1] == checkpointed[2]  # every frame is in the database file
    processor.close()


def test_a_failed_checkpoint_is_absorbed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.sqlite3")
    store.close()
    store.upkeep()  # a closed connection: sqlite3.ProgrammingError is a sqlite3.Error
