"""Export from one store, import into another (memory, SQLite files, MongoDB when a server is
given): same answers, and the imported memory is what a reopened store holds."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kato.processor import KatoProcessor, ProcessorConfig
from kato.processor.store.base import PatternStore
from kato.processor.store.memory import MemoryStore
from kato.processor.store.sqlite import SQLiteStore

# The export helpers of the processor unit tests are reused as they are.
sys.path.insert(0, str(Path(__file__).parents[3] / "unit" / "kato" / "processor"))
from portability_helpers import export_bytes, import_bytes, observable, probe, train  # noqa: E402

CONFIG = ProcessorConfig(processor_id="portable")
TARGETS = ("memory", "sqlite", "mongo")


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], PatternStore]]:
    """A second storage, independent of ``reopen``'s, opened again on each call."""
    opened: list[PatternStore] = []
    if request.param == "memory":
        shared = MemoryStore()
        yield lambda: shared
        return
    if request.param == "sqlite":
        path = tmp_path / "target.sqlite3"

        def factory() -> PatternStore:
            opened.append(SQLiteStore(path))
            return opened[-1]

        yield factory
    else:
        from kato.processor.store.mongo import MongoStore

        url = os.environ.get("KATO_TEST_MONGO_URL") or pytest.skip("KATO_TEST_MONGO_URL not set")
        database = f"kato_test_{uuid.uuid4().hex[:12]}"

        def factory() -> PatternStore:
            opened.append(MongoStore(url, database))
            return opened[-1]

        yield factory
        import pymongo

        pymongo.MongoClient(url).drop_database(database)
    for store in opened:
        store.close()


def test_round_trip_across_stores(
    reopen: Callable[[], PatternStore], target: Callable[[], PatternStore]
) -> None:
    source = KatoProcessor(CONFIG, reopen())
    train(source, 1500)
    data = export_bytes(source)
    copy = KatoProcessor(CONFIG, target())
    train(copy, 20, seed=99)  # memory that the import must replace entirely
    import_bytes(copy, data)
    assert observable(copy) == observable(source)
    assert export_bytes(copy) == data
    answers = probe(source, 40)
    assert any(answers) and probe(copy, 40) == answers

    reopened = target().load()  # what a restarted processor would load
    image = source.memory_image()
    assert reopened.patterns == list(image.patterns)
    assert reopened.symbols == list(image.symbols)
    assert reopened.totals == image.totals
