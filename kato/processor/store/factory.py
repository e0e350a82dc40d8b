"""Choose the store for a processor from the deployment settings."""

from __future__ import annotations

from pathlib import Path

from kato.contract import PROCESSOR_ID_RULE, is_processor_id
from kato.processor.errors import ValidationError
from kato.processor.store.base import PatternStore
from kato.processor.store.sqlite import SQLiteStore


def open_store(
    processor_id: str, *, data_dir: Path | None = None, mongo_url: str | None = None
) -> PatternStore:
    """``mongo_url`` given -> MongoStore (database named after the processor id), else
    SQLiteStore at ``<data_dir>/<processor_id>.sqlite3`` (``data_dir`` defaults to the current
    directory). pymongo is imported only when MongoDB is used."""
    if not is_processor_id(processor_id):
        raise ValidationError(
            f"processor_id must be {PROCESSOR_ID_RULE}", {"processor_id": processor_id}
        )
    if mongo_url:
        from kato.processor.store.mongo import MongoStore

        return MongoStore(mongo_url, processor_id)
    return SQLiteStore((data_dir or Path.cwd()) / f"{processor_id}.sqlite3")
