"""In-memory long-term memory: patterns, symbol statistics, totals and the search index.

The processor searches only this mirror; the store is read once at start-up and written on
learn / clear-all. Learning is split in two so that a storage failure changes nothing:
:meth:`KnowledgeBase.plan_learn` computes the new records without mutating anything, the
processor persists them, and only then :meth:`KnowledgeBase.apply` installs them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kato.processor.emotives import mean_emotives, next_window, nonzero
from kato.processor.matching import positions
from kato.processor.metrics import SymbolTerms
from kato.processor.naming import pattern_name
from kato.processor.prediction import Events
from kato.processor.store.base import PatternRecord, StoreSnapshot, SymbolRecord, Totals


@dataclass(eq=False)
class IndexedPattern:
    """A stored pattern plus what the search needs of it, computed once per pattern.

    Hashed by identity: the inverted index maps symbols straight to these objects. A re-learn
    replaces ``record`` and ``emotives`` in place (the structure never changes), so index entries
    stay valid; predictions keep the values they were built with.
    """

    record: PatternRecord
    events: Events
    flat: tuple[str, ...]
    offsets: tuple[int, ...]  # flattened start of every event, then the total length
    positions: dict[str, tuple[int, ...]]  # symbol -> flattened positions
    emotives: Mapping[str, float]
    bucket: int  # length bucket of the reference pre-filter: len(flat) // 10

    @classmethod
    def of(cls, record: PatternRecord) -> IndexedPattern:
        events = tuple(tuple(event) for event in record.pattern_data)
        flat = tuple(symbol for event in events for symbol in event)
        offsets = [0]
        for event in events:
            offsets.append(offsets[-1] + len(event))
        return cls(
            record, events, flat, tuple(offsets),
            {symbol: tuple(found) for symbol, found in positions(flat).items()},
            mean_emotives(record.emotives),
            len(flat) // 10,
        )

    @property
    def name(self) -> str:
        return self.record.name



class TermCache(dict[str, SymbolTerms]):
    """Lazily computed :class:`SymbolTerms` of every symbol; the knowledge base drops it on
    every change of the statistics."""

    def __init__(self, kb: KnowledgeBase) -> None:
        super().__init__()
        self._kb = kb

    def __missing__(self, symbol: str) -> SymbolTerms:
        kb = self._kb
        total = kb.totals.total_symbols_in_patterns_frequencies
        record = kb.symbols.get(symbol)
        member = record.pattern_member_frequency if record else 0
        terms = SymbolTerms.of(member / total if total else 0.0, len(kb.symbols))
        self[symbol] = terms
        return terms


@dataclass(frozen=True)
class LearnPlan:
    """The complete outcome of one learn, ready to be persisted and then applied."""

    pattern: PatternRecord
    symbols: list[SymbolRecord]
    totals: Totals


@dataclass
class KnowledgeBase:
    """Patterns by bare name, an inverted index symbol -> {pattern: count}, statistics."""

    patterns: dict[str, IndexedPattern] = field(default_factory=dict)
    by_symbol: dict[str, dict[IndexedPattern, int]] = field(default_factory=dict)
    bucket_sizes: Counter[int] = field(default_factory=Counter)
    symbols: dict[str, SymbolRecord] = field(default_factory=dict)
    totals: Totals = field(default_factory=Totals)
    terms: TermCache = field(init=False)
    #: (pattern, first, end) -> present-only metrics; see search._present_metrics.
    present_metrics: dict[tuple[str, int, int], tuple[float, float, float, float]] = field(
        init=False
    )

    def __post_init__(self) -> None:
        self._statistics_changed()

    def _statistics_changed(self) -> None:
        """Drop everything derived from symbol statistics and totals."""
        self.terms = TermCache(self)
        self.present_metrics = {}

    @classmethod
    def from_snapshot(cls, snapshot: StoreSnapshot) -> KnowledgeBase:
        kb = cls(symbols={s.name: s for s in snapshot.symbols}, totals=snapshot.totals)
        for record in snapshot.patterns:
            kb._index(record)
        return kb

    def plan_learn(
        self, events: Sequence[Sequence[str]], emotives: Mapping[str, float], persistence: int
    ) -> LearnPlan:
        """Records after learning ``events`` with learn-time mean ``emotives`` (pure)."""
        data = [list(event) for event in events]
        name = pattern_name(data)
        flat = [symbol for event in data for symbol in event]
        known = self.patterns.get(name)
        if known is None:
            window = next_window([], emotives, persistence)
            pattern = PatternRecord(name, data, len(flat), 1, window)
        else:
            old = known.record
            window = next_window(old.emotives, emotives, persistence)
            pattern = PatternRecord(name, old.pattern_data, old.length, old.frequency + 1, window)
        stored_emotives = nonzero(emotives)
        counts = Counter(flat)
        symbols = [self._next_symbol(s, n, stored_emotives) for s, n in counts.items()]
        totals = Totals(
            self.totals.total_pattern_frequencies + 1,
            self.totals.total_symbol_frequencies + len(flat),
            self.totals.total_symbols_in_patterns_frequencies + len(counts),
        )
        return LearnPlan(pattern, symbols, totals)

    def apply(self, plan: LearnPlan) -> None:
        """Install a persisted plan."""
        self._index(plan.pattern)
        for symbol in plan.symbols:
            self.symbols[symbol.name] = symbol
        self.totals = plan.totals
        self._statistics_changed()

    def _next_symbol(
        self, name: str, count: int, emotives: Mapping[str, float]
    ) -> SymbolRecord:
        old = self.symbols.get(name) or SymbolRecord(name, 0, 0)
        merged = dict(old.emotives)
        for key, value in emotives.items():
            merged[key] = merged.get(key, 0) + value
        return SymbolRecord(name, old.frequency + count, old.pattern_member_frequency + 1, merged)

    def _index(self, record: PatternRecord) -> None:
        known = self.patterns.get(record.name)
        if known is not None:
            known.record = record
            known.emotives = mean_emotives(record.emotives)
            return
        pattern = IndexedPattern.of(record)
        self.patterns[record.name] = pattern
        self.bucket_sizes[pattern.bucket] += 1
        for symbol, found in pattern.positions.items():
            self.by_symbol.setdefault(symbol, {})[pattern] = len(found)
