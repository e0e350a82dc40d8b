"""Pattern stores: the interface, its records, and the backends."""

from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StateWrite,
    StoredState,
    StoreSnapshot,
    SymbolRecord,
    Totals,
)

__all__ = [
    "PatternRecord",
    "PatternStore",
    "StateWrite",
    "StoreSnapshot",
    "StoredState",
    "SymbolRecord",
    "Totals",
]
