"""The PatternStore contract, run against every backend (real SQLite files; MongoDB when
KATO_TEST_MONGO_URL is set)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kato.processor import StorageError
from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StoreSnapshot,
    SymbolRecord,
    Totals,
)

StoreFactory = Callable[[], PatternStore]

PATTERN = PatternRecord(
    "b98534b32c1d7489d4ce1a48724aa65aeecbdba9", [["a"], ["b"], ["c"]], 3, 1,
    [{"joy": 0.8500000000000001, "energy": 0.2}],
)
SYMBOLS = [
    SymbolRecord("a", 1, 1, {"joy": 0.8500000000000001}),
    SymbolRecord("b", 2, 1, {}),
    SymbolRecord("c", 1, 1, {"joy": -3.5}),
]
TOTALS = Totals(1, 3, 3)


def _sorted(snapshot: StoreSnapshot) -> StoreSnapshot:
    return StoreSnapshot(
        sorted(snapshot.patterns, key=lambda p: p.name),
        sorted(snapshot.symbols, key=lambda s: s.name),
        snapshot.totals,
    )


def test_empty_store_loads_empty(reopen: StoreFactory) -> None:
    assert reopen().load() == StoreSnapshot([], [], Totals())


def test_saved_learn_round_trips_exactly(reopen: StoreFactory) -> None:
    reopen().save_learn(PATTERN, SYMBOLS, TOTALS)
    assert _sorted(reopen().load()) == StoreSnapshot([PATTERN], SYMBOLS, TOTALS)


def test_pattern_without_emotives_round_trips(reopen: StoreFactory) -> None:
    plain = PatternRecord("395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4", [["a", "b"]], 2, 1, [])
    reopen().save_learn(plain, [], Totals(1, 2, 2))
    assert reopen().load().patterns == [plain]


def test_save_learn_upserts(reopen: StoreFactory) -> None:
    store = reopen()
    store.save_learn(PATTERN, SYMBOLS, TOTALS)
    again = PatternRecord(PATTERN.name, PATTERN.pattern_data, 3, 2, [*PATTERN.emotives, {}])
    store.save_learn(again, [SymbolRecord("a", 2, 2, {"joy": 1.0})], Totals(2, 6, 6))
    loaded = _sorted(reopen().load())
    assert loaded.patterns == [again]
    assert loaded.symbols[0] == SymbolRecord("a", 2, 2, {"joy": 1.0})
    assert loaded.symbols[1:] == SYMBOLS[1:]
    assert loaded.totals == Totals(2, 6, 6)


def test_clear_deletes_everything(reopen: StoreFactory) -> None:
    store = reopen()
    store.save_learn(PATTERN, SYMBOLS, TOTALS)
    store.clear()
    assert reopen().load() == StoreSnapshot([], [], Totals())


def test_unicode_and_quotes_survive(reopen: StoreFactory) -> None:
    odd = PatternRecord("x" * 40, [["both'\"", "日本"], ["tab\t", ""]], 4, 1, [])
    reopen().save_learn(odd, [SymbolRecord("日本", 1, 1)], Totals(1, 4, 4))
    snapshot = reopen().load()
    assert snapshot.patterns == [odd]
    assert snapshot.symbols == [SymbolRecord("日本", 1, 1)]


def test_failed_write_changes_nothing(
    reopen: StoreFactory, request: pytest.FixtureRequest
) -> None:
    if "memory" in request.node.callspec.id:
        pytest.skip("MemoryStore keeps Python objects and never fails to serialise")
    store = reopen()
    store.save_learn(PATTERN, SYMBOLS, TOTALS)
    broken = [SymbolRecord("d", 1, 1, {"joy": object()})]  # type: ignore[dict-item]
    changed = PatternRecord(PATTERN.name, PATTERN.pattern_data, 3, 9, [])
    with pytest.raises(StorageError):
        store.save_learn(changed, broken, Totals(9, 9, 9))
    assert _sorted(reopen().load()) == StoreSnapshot([PATTERN], SYMBOLS, TOTALS)


def test_close_is_idempotent(reopen: StoreFactory) -> None:
    store = reopen()
    store.close()
    store.close()
