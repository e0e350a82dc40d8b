"""Pattern stores: the interface, its records, and the backends."""

from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StoreSnapshot,
    SymbolRecord,
    Totals,
)

__all__ = ["PatternRecord", "PatternStore", "StoreSnapshot", "SymbolRecord", "Totals"]
