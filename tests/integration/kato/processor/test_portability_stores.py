"""Export from one store, import into another (memory, SQLite files, MongoDB when a server is
given): same answers, same bytes out again, and the imported memory is what a reopened store
holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kato.processor import KatoProcessor, ProcessorConfig
from kato.processor.store.base import PatternStore
from kato.processor.store.memory import MemoryStore
from kato.processor.store.sqlite import SQLiteStore

# The export helpers of the processor unit tests, reused as they are.
from tests.unit.kato.processor.portability_helpers import (
    export_bytes,
    import_bytes,
    observable,
    probe,
    train,
)

CONFIG = ProcessorConfig(processor_id="portable")


@pytest.mark.parametrize("source_store", ["memory", "sqlite"])
def test_round_trip_across_stores(
    source_store: str, reopen: Callable[[], PatternStore], tmp_path: Path
) -> None:
    """Source on memory or SQLite, target on every backend of ``reopen``; the target exporting
    the very same bytes again shows it is as good a source as the others."""
    store = MemoryStore() if source_store == "memory" else SQLiteStore(tmp_path / "src.sqlite3")
    source = KatoProcessor(CONFIG, store)
    train(source, 1500)
    data = export_bytes(source)
    copy = KatoProcessor(CONFIG, reopen())
    train(copy, 20, seed=99)  # memory that the import must replace entirely
    import_bytes(copy, data)
    assert observable(copy) == observable(source)
    assert export_bytes(copy) == data
    answers = probe(source, 40)
    assert any(answers) and probe(copy, 40) == answers

    reopened = reopen().load()  # what a restarted processor would load
    image = source.memory_image()
    assert reopened.patterns == list(image.patterns)
    assert reopened.symbols == list(image.symbols)
    assert reopened.totals == image.totals
    source.close()
