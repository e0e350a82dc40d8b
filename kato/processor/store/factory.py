"""Choose the store for a processor from the deployment settings."""

from __future__ import annotations

import re
from pathlib import Path

from kato.processor.errors import ValidationError
from kato.processor.store.base import PatternStore
from kato.processor.store.sqlite import SQLiteStore

# Used as a file name and a MongoDB database name: no path separators, no dots (Mongo forbids them).
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def open_store(
    processor_id: str, *, data_dir: Path | None = None, mongo_url: str | None = None
) -> PatternStore:
    """``mongo_url`` given -> MongoStore (database named after the processor id), else
    SQLiteStore at ``<data_dir>/<processor_id>.sqlite3`` (``data_dir`` defaults to the current
    directory). pymongo is imported only when MongoDB is used."""
    if not _SAFE_ID.fullmatch(processor_id):
        raise ValidationError(
            "processor_id must be 1-64 letters, digits, '_' or '-'",
            {"processor_id": processor_id},
        )
    if mongo_url:
        from kato.processor.store.mongo import MongoStore

        return MongoStore(mongo_url, processor_id)
    return SQLiteStore((data_dir or Path.cwd()) / f"{processor_id}.sqlite3")
