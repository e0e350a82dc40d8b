"""Restart at processor level: learn, close, reopen the same storage, identical behaviour."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kato.processor import KatoProcessor, Observation, ProcessorConfig, open_store
from kato.processor.store.base import PatternStore

CONFIG = ProcessorConfig(processor_id="restart", recall_threshold=0.0)


def _teach(processor: KatoProcessor) -> None:
    sequences = [
        (["a", "b"], ["c"], ["d"]),
        (["b"], ["c"], ["e"], ["f"]),
        (["a", "b"], ["c"], ["d"]),
        (["x"], ["y"]),
    ]
    for n, sequence in enumerate(sequences):
        for i, event in enumerate(sequence):
            processor.observe(Observation(list(event), [], {"utility": float(n + i)}, f"t{n}{i}"))
        processor.learn()


def _probe(processor: KatoProcessor) -> list[dict[str, Any]]:
    processor.clear_stm()
    for i, event in enumerate((["z", "b"], ["c"])):
        processor.observe(Observation(event, [[0.5, 1.0]], {}, f"p{i}"))
    return processor.get_predictions()


def test_restart_restores_patterns_statistics_and_totals(
    reopen: Callable[[], PatternStore],
) -> None:
    first = KatoProcessor(CONFIG, reopen())
    _teach(first)
    expected = _probe(first)
    patterns = {name: first.get_pattern(name) for name in first._kb.patterns}
    symbols, totals = dict(first._kb.symbols), first._kb.totals
    first.close()

    second = KatoProcessor(CONFIG, reopen())
    assert second.pattern_count == len(patterns) == 3
    assert {name: second.get_pattern(name) for name in patterns} == patterns
    assert (second._kb.symbols, second._kb.totals) == (symbols, totals)
    assert _probe(second) == expected
    assert expected  # the probe really predicts something
    second.close()


def test_open_store_sqlite_file_layout(tmp_path: Path) -> None:
    processor = KatoProcessor(CONFIG, open_store("restart", data_dir=tmp_path))
    _teach(processor)
    processor.close()
    path = tmp_path / "restart.sqlite3"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM patterns").fetchone()[0] == 3
    reopened = KatoProcessor(CONFIG, open_store("restart", data_dir=tmp_path))
    assert reopened.pattern_count == 3
    reopened.clear_all()
    reopened.close()
    again = KatoProcessor(CONFIG, open_store("restart", data_dir=tmp_path))
    assert again.pattern_count == 0
    again.close()
