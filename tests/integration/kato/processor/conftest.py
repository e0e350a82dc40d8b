"""Fixtures: the same storage reopened, for every PatternStore backend.

PostgreSQL runs on the run's own server (``postgres_server``); MongoDB only when
``KATO_TEST_MONGO_URL`` points at a server. Each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kato.processor.store.base import PatternStore
from kato.processor.store.memory import MemoryStore
from kato.processor.store.sqlite import SQLiteStore
from kato.testing.postgres import PostgresServer

BACKENDS = ["memory", "sqlite", "postgres", "mongo"]
StoreFactory = Callable[[], PatternStore]


def mongo_url() -> str:
    url = os.environ.get("KATO_TEST_MONGO_URL")
    if not url:
        pytest.skip("KATO_TEST_MONGO_URL not set (no MongoDB server for the Mongo store tests)")
    return url


@pytest.fixture(params=BACKENDS)
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory opening the SAME underlying storage each call (memory: the same object)."""
    opened: list[PatternStore] = []
    if request.param == "memory":
        shared = MemoryStore()

        def factory() -> PatternStore:
            return shared

        yield factory
        return
    if request.param == "sqlite":
        path = tmp_path / "proc-1.sqlite3"

        def factory() -> PatternStore:
            opened.append(SQLiteStore(path))
            return opened[-1]

        yield factory
    elif request.param == "postgres":
        from kato.processor.store.postgres import PostgresStore

        server: PostgresServer = request.getfixturevalue("postgres_server")
        database = f"kato_test_{uuid.uuid4().hex[:12]}"
        url = server.create_database(database)

        def factory() -> PatternStore:
            opened.append(PostgresStore(url, "proc-1"))
            return opened[-1]

        yield factory
        for store in opened:
            store.close()
        server.drop_database(database)
    else:
        from kato.processor.store.mongo import MongoStore

        url, database = mongo_url(), f"kato_test_{uuid.uuid4().hex[:12]}"

        def factory() -> PatternStore:
            opened.append(MongoStore(url, database))
            return opened[-1]

        yield factory
        import pymongo

        pymongo.MongoClient(url).drop_database(database)
    for store in opened:
        store.close()
