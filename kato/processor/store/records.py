"""Plain-document form of the records, shared by the backends that serialise them and by
``KatoProcessor.get_pattern``."""

from __future__ import annotations

from typing import Any

from kato.processor.store.base import PatternRecord, SymbolRecord, Totals


def pattern_document(pattern: PatternRecord) -> dict[str, Any]:
    """Upstream's field names; ``emotives`` is stored as upstream does: ``{}`` or a list.

    Built of fresh lists and dicts, so the processor can hand it out (``get_pattern``).
    """
    return {
        "name": pattern.name,
        "pattern_data": [list(event) for event in pattern.pattern_data],
        "length": pattern.length,
        "frequency": pattern.frequency,
        "emotives": [dict(item) for item in pattern.emotives] if pattern.emotives else {},
    }


def pattern_from_document(document: dict[str, Any]) -> PatternRecord:
    emotives = document.get("emotives") or []
    return PatternRecord(
        name=document["name"],
        pattern_data=[list(event) for event in document["pattern_data"]],
        length=int(document["length"]),
        frequency=int(document["frequency"]),
        emotives=[dict(item) for item in emotives],
    )


def symbol_document(symbol: SymbolRecord) -> dict[str, Any]:
    return {
        "name": symbol.name,
        "frequency": symbol.frequency,
        "pattern_member_frequency": symbol.pattern_member_frequency,
        "emotives": symbol.emotives,
    }


def symbol_from_document(document: dict[str, Any]) -> SymbolRecord:
    return SymbolRecord(
        name=document["name"],
        frequency=int(document["frequency"]),
        pattern_member_frequency=int(document["pattern_member_frequency"]),
        emotives=dict(document.get("emotives") or {}),
    )


def totals_document(totals: Totals) -> dict[str, int]:
    return {
        "total_pattern_frequencies": totals.total_pattern_frequencies,
        "total_symbol_frequencies": totals.total_symbol_frequencies,
        "total_symbols_in_patterns_frequencies": totals.total_symbols_in_patterns_frequencies,
    }


def totals_from_document(document: dict[str, Any] | None) -> Totals:
    if not document:
        return Totals()
    return Totals(
        int(document["total_pattern_frequencies"]),
        int(document["total_symbol_frequencies"]),
        int(document["total_symbols_in_patterns_frequencies"]),
    )
