"""Choose the store for a processor from the deployment settings."""

from __future__ import annotations

from pathlib import Path

from kato.contract import PROCESSOR_ID_RULE, is_processor_id
from kato.processor.errors import ValidationError
from kato.processor.store.base import PatternStore
from kato.processor.store.sqlite import SQLiteStore


def open_store(
    processor_id: str,
    *,
    data_dir: Path | None = None,
    mongo_url: str | None = None,
    postgres_url: str | None = None,
) -> PatternStore:
    """``postgres_url`` given -> PostgresStore (schema ``kato_<processor_id>``), ``mongo_url``
    -> MongoStore (database named after the processor id), neither -> SQLiteStore at
    ``<data_dir>/<processor_id>.sqlite3`` (``data_dir`` defaults to the current directory); both
    is a ValidationError. psycopg and pymongo are imported only when their store is used."""
    if not is_processor_id(processor_id):
        raise ValidationError(
            f"processor_id must be {PROCESSOR_ID_RULE}", {"processor_id": processor_id}
        )
    if postgres_url and mongo_url:
        raise ValidationError("Give one shared store: a PostgreSQL URL or a MongoDB URL, not both")
    if postgres_url:
        from kato.processor.store.postgres import PostgresStore

        return PostgresStore(postgres_url, processor_id)
    if mongo_url:
        from kato.processor.store.mongo import MongoStore

        return MongoStore(mongo_url, processor_id)
    return SQLiteStore((data_dir or Path.cwd()) / f"{processor_id}.sqlite3")
