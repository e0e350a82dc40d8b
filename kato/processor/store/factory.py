"""Choose the store for a processor from the deployment settings."""

from __future__ import annotations

from pathlib import Path

from kato.processor.store.base import PatternStore


def open_store(
    processor_id: str, *, data_dir: Path | None = None, mongo_url: str | None = None
) -> PatternStore:
    """``mongo_url`` given -> MongoStore (one database per processor id), else SQLiteStore
    at ``<data_dir>/<processor_id>.sqlite3`` (``data_dir`` defaults to the current directory)."""
    raise NotImplementedError
