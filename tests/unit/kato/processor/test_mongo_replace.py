"""MongoStore.replace_all on a server without transactions (staging collections renamed over
the live ones), against mongomock: the real MongoDB suites need KATO_TEST_MONGO_URL."""

from __future__ import annotations

from collections.abc import Iterator

import mongomock
import pytest

from kato.processor import StorageError
from kato.processor.store import mongo
from kato.processor.store.base import PatternRecord, StoreSnapshot, SymbolRecord, Totals


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[mongo.MongoStore]:
    monkeypatch.setattr(mongo, "MongoClient", mongomock.MongoClient)
    monkeypatch.setattr(mongo, "_INSERT_BATCH", 2)  # several batches with a few records
    opened = mongo.MongoStore("mongodb://unit", "replace", attempts=1)
    opened._transactions = False  # a standalone server
    yield opened
    opened.close()


def _snapshot(prefix: str, count: int) -> StoreSnapshot:
    patterns = [
        PatternRecord(f"{prefix}{i:039d}", [[f"{prefix}{i}"], ["z"]], 2, i + 1, [{"joy": i / 3}])
        for i in range(count)
    ]
    symbols = [SymbolRecord(f"{prefix}{i}", i + 1, 1, {"joy": i / 7}) for i in range(count)]
    return StoreSnapshot(patterns, symbols, Totals(count, 2 * count, count + 1))


def test_replace_all_holds_exactly_the_snapshot_in_order(store: mongo.MongoStore) -> None:
    store.replace_all(_snapshot("a", 3))
    wanted = _snapshot("b", 5)
    store.replace_all(wanted)
    assert store.load() == wanted
    assert sorted(store._db.list_collection_names()) == ["metadata", "patterns_kb", "symbols_kb"]


def test_a_failed_write_changes_nothing(
    store: mongo.MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot("a", 3)
    store.replace_all(before)
    calls = iter(range(100))

    def failing_insert(self: object, *args: object, **kwargs: object) -> None:
        if next(calls) == 2:
            raise mongo.PyMongoError("disk full")

    monkeypatch.setattr(mongomock.collection.Collection, "insert_many", failing_insert)
    with pytest.raises(StorageError):
        store.replace_all(_snapshot("b", 5))
    monkeypatch.undo()
    assert store.load() == before
