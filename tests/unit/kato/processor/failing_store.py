"""A store whose writes can be made to fail, to test that failures change nothing."""

from __future__ import annotations

from collections.abc import Sequence

from kato.processor.store.base import PatternRecord, StateWrite, StoreSnapshot, SymbolRecord, Totals
from kato.processor.store.memory import MemoryStore


class FailingStore(MemoryStore):
    """MemoryStore that raises ``error`` from writes while ``failing`` is set."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.failing = False

    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        if self.failing:
            raise self.error
        super().save_learn(pattern, symbols, totals, state)

    def clear(self, state: StateWrite | None = None) -> None:
        if self.failing:
            raise self.error
        super().clear(state)

    def replace_all(self, snapshot: StoreSnapshot, state: StateWrite | None = None) -> None:
        if self.failing:
            raise self.error
        super().replace_all(snapshot, state)

    def save_state(self, state: StateWrite) -> None:
        if self.failing:
            raise self.error
        super().save_state(state)
