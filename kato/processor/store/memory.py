"""In-memory store: the reference implementation of the contract, used by unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StoreSnapshot,
    SymbolRecord,
    Totals,
)


class MemoryStore(PatternStore):
    """Keeps records in dicts; nothing survives the process. Records are copied in and out so
    callers can never alias the stored state. There is nothing to release, so ``close`` is a
    no-op and the same object can stand in for a reopened store in restart tests."""

    def __init__(self) -> None:
        self._patterns: dict[str, PatternRecord] = {}
        self._symbols: dict[str, SymbolRecord] = {}
        self._totals = Totals()

    def load(self) -> StoreSnapshot:
        return StoreSnapshot(
            [_copy_pattern(p) for p in self._patterns.values()],
            [replace(s, emotives=dict(s.emotives)) for s in self._symbols.values()],
            self._totals,
        )

    def save_learn(
        self, pattern: PatternRecord, symbols: Sequence[SymbolRecord], totals: Totals
    ) -> None:
        self._patterns[pattern.name] = _copy_pattern(pattern)
        for symbol in symbols:
            self._symbols[symbol.name] = replace(symbol, emotives=dict(symbol.emotives))
        self._totals = totals

    def replace_all(self, snapshot: StoreSnapshot) -> None:
        self._patterns = {p.name: _copy_pattern(p) for p in snapshot.patterns}
        self._symbols = {
            s.name: replace(s, emotives=dict(s.emotives)) for s in snapshot.symbols
        }
        self._totals = snapshot.totals

    def clear(self) -> None:
        self._patterns.clear()
        self._symbols.clear()
        self._totals = Totals()

    def close(self) -> None:
        pass


def _copy_pattern(pattern: PatternRecord) -> PatternRecord:
    return replace(
        pattern,
        pattern_data=[list(event) for event in pattern.pattern_data],
        emotives=[dict(item) for item in pattern.emotives],
    )
