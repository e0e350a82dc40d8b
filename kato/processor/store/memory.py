"""In-memory store: the reference implementation of the contract, used by unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StateWrite,
    StoredState,
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
        self._state = StoredState()

    def load(self) -> StoreSnapshot:
        return StoreSnapshot(
            [_copy_pattern(p) for p in self._patterns.values()],
            [replace(s, emotives=dict(s.emotives)) for s in self._symbols.values()],
            self._totals,
        )

    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        self._patterns[pattern.name] = _copy_pattern(pattern)
        for symbol in symbols:
            self._symbols[symbol.name] = replace(symbol, emotives=dict(symbol.emotives))
        self._totals = totals
        if state is not None:
            self.save_state(state)

    def replace_all(self, snapshot: StoreSnapshot, state: StateWrite | None = None) -> None:
        self._patterns = {p.name: _copy_pattern(p) for p in snapshot.patterns}
        self._symbols = {
            s.name: replace(s, emotives=dict(s.emotives)) for s in snapshot.symbols
        }
        self._totals = snapshot.totals
        if state is not None:
            self.save_state(state)

    def clear(self, state: StateWrite | None = None) -> None:
        self._patterns.clear()
        self._symbols.clear()
        self._totals = Totals()
        if state is not None:
            self.save_state(state)

    def load_state(self) -> StoredState:
        return StoredState(dict(self._state.parts), list(self._state.log))

    def save_state(self, state: StateWrite) -> None:
        parts = {} if state.reset else dict(self._state.parts)
        log = {} if state.reset else dict(self._state.log)
        parts.update(state.parts)
        for unique_id in state.log_remove:
            log.pop(unique_id, None)
        log.update(state.log_append)
        self._state = StoredState(parts, list(log.items()))

    def close(self) -> None:
        pass


def _copy_pattern(pattern: PatternRecord) -> PatternRecord:
    return replace(
        pattern,
        pattern_data=[list(event) for event in pattern.pattern_data],
        emotives=[dict(item) for item in pattern.emotives],
    )
