"""A store whose writes can be made to fail, to test that failures change nothing."""

from __future__ import annotations

from collections.abc import Sequence

from kato.processor.store.base import PatternRecord, StoreSnapshot, SymbolRecord, Totals
from kato.processor.store.memory import MemoryStore


class FailingStore(MemoryStore):
    """MemoryStore that raises ``error`` from writes while ``failing`` is set."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.failing = False

    def save_learn(
        self, pattern: PatternRecord, symbols: Sequence[SymbolRecord], totals: Totals
    ) -> None:
        if self.failing:
            raise self.error
        super().save_learn(pattern, symbols, totals)

    def clear(self) -> None:
        if self.failing:
            raise self.error
        super().clear()

    def replace_all(self, snapshot: StoreSnapshot) -> None:
        if self.failing:
            raise self.error
        super().replace_all(snapshot)
