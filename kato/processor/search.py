"""Prediction generation: candidate selection, matching, ensemble metrics, ranking (spec §5).

Speed comes from never touching patterns that cannot qualify: the inverted index gives, in one
pass, every pattern sharing a symbol with the state together with its multiset overlap, and
``2 * overlap / (len(pattern) + len(state))`` bounds the similarity from above (like
``SequenceMatcher.quick_ratio``), so only candidates that can reach ``recall_threshold`` get the
exact matcher. Metrics that do not influence ranking are computed only for the survivors of the
``max_predictions`` cap. None of this changes a result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from kato.processor import metrics
from kato.processor.extraction import Extraction, extract
from kato.processor.knowledge import IndexedPattern, KnowledgeBase
from kato.processor.matching import equal_pairs, matching_blocks, positions
from kato.processor.prediction import Prediction

_PREFILTER_SYMBOLS = 10
_PRESENT_MEMO_LIMIT = 100_000


def overlaps(kb: KnowledgeBase, state: Sequence[str]) -> dict[IndexedPattern, int]:
    """Multiset overlap with the state of every pattern sharing at least one state symbol."""
    result: dict[IndexedPattern, int] = {}
    get = result.get
    for symbol, count in Counter(state).items():
        for pattern, in_pattern in kb.by_symbol.get(symbol, {}).items():
            result[pattern] = get(pattern, 0) + (count if count < in_pattern else in_pattern)
    return result


def candidates(
    kb: KnowledgeBase, state: Sequence[str], overlap: dict[IndexedPattern, int], *,
    exhaustive: bool, include_disjoint: bool,
) -> Iterable[IndexedPattern]:
    """Patterns to match. Patterns sharing no state symbol are only worth listing when
    ``include_disjoint`` (threshold 0.0): at any positive threshold their similarity 0 fails.

    Exhaustive mode lists every pattern; otherwise the reference pre-filter applies (QUIRK-1):
    only the first 10 state symbols select, and a length window on ``len(flat) // 10`` either
    widens (states of ≤ 2 symbols) or narrows (longer states, when the window is non-empty).
    """
    if exhaustive:
        return kb.patterns.values() if include_disjoint else overlap
    size = len(state)
    centre, tolerance = size // 10, max(1, int(0.5 * size / 10))
    low, high = centre - tolerance, centre + tolerance
    selected: set[IndexedPattern] = set()
    for symbol in set(state[:_PREFILTER_SYMBOLS]):
        selected.update(kb.by_symbol.get(symbol, ()))
    if size <= 2:
        if include_disjoint:
            selected.update(p for p in kb.patterns.values() if low <= p.bucket <= high)
        return selected
    if any(kb.bucket_sizes.get(bucket) for bucket in range(low, high + 1)):
        return [p for p in selected if low <= p.bucket <= high]
    return selected


def generate(
    kb: KnowledgeBase,
    state: Sequence[str],
    *,
    recall_threshold: float,
    max_predictions: int,
    exhaustive: bool,
) -> list[Prediction]:
    """Ranked predictions for ``state`` (flattened STM of ≥ 2 symbols), bare names."""
    overlap = overlaps(kb, state)
    chosen = candidates(
        kb, state, overlap, exhaustive=exhaustive, include_disjoint=recall_threshold == 0
    )
    state_positions = positions(state)
    state_len = len(state)
    found: list[tuple[IndexedPattern, Extraction, float]] = []
    for pattern in chosen:
        total_len = len(pattern.flat) + state_len
        if 2.0 * overlap.get(pattern, 0) / total_len < recall_threshold:
            continue
        pairs = equal_pairs(pattern.positions, state_positions)
        blocks = matching_blocks(pattern.flat, state, pairs)
        similarity = 2.0 * sum(block[2] for block in blocks) / total_len
        if similarity < recall_threshold:  # no blocks: similarity 0, kept only at threshold 0
            continue
        found.append((pattern, extract(pattern, blocks, state), similarity))
    if not found:
        return []
    stats = _statistics(kb, found, state)
    return _rank(kb, found, stats, max_predictions)


def _statistics(
    kb: KnowledgeBase,
    found: Sequence[tuple[IndexedPattern, Extraction, float]],
    state: Sequence[str],
) -> metrics.Statistics:
    """Ensemble inputs; P(s) only for symbols some candidate matched or misses (QUIRK-5)."""
    terms = kb.terms
    probabilities: dict[str, float] = {}
    for _, extraction, _ in found:
        for symbol in (*extraction.matches, *extraction.missing):
            if symbol not in probabilities:
                probabilities[symbol] = terms[symbol].probability
    return metrics.Statistics.build(
        probabilities,
        state,
        ensemble_frequency=sum(pattern.record.frequency for pattern, _, _ in found),
    )


def _rank(
    kb: KnowledgeBase,
    found: Sequence[tuple[IndexedPattern, Extraction, float]],
    stats: metrics.Statistics,
    max_predictions: int,
) -> list[Prediction]:
    """Potential descending, ties by bare name ascending (QUIRK-2 fix), then the cap."""
    scored = []
    for pattern, extraction, similarity in found:
        matched = len(extraction.matches)
        evidence = matched / pattern.record.length if pattern.record.length else 0.0
        noise = 2 * matched + len(extraction.extras)
        snr = (2 * matched - len(extraction.extras)) / noise if noise else 0.0
        itfdf = metrics.itfdf_similarity(extraction.present, pattern.record.frequency, stats)
        value = metrics.potential(
            evidence, extraction.confidence, snr, itfdf, extraction.fragmentation
        )
        scored.append((-value, pattern.name, pattern, extraction, similarity, evidence, snr, itfdf))
    scored.sort()  # (-potential, unique name) decides; later items are never compared
    result = []
    for negated, _, pattern, extraction, similarity, evidence, snr, itfdf in scored[
        :max_predictions
    ]:
        record, first, end = pattern.record, extraction.first, extraction.end
        entropy, hamiltonian, grand, confluence = _present_metrics(
            kb, pattern, first, end, extraction.present
        )
        result.append(
            Prediction(
                name=record.name,
                frequency=record.frequency,
                emotives=pattern.emotives,
                matches=extraction.matches,
                past=pattern.events[:first],
                present=pattern.events[first:end],
                missing=extraction.missing,
                extras=extraction.extras,
                potential=-negated,
                evidence=evidence,
                similarity=similarity,
                fragmentation=extraction.fragmentation,
                snr=snr,
                entropy=entropy,
                hamiltonian=hamiltonian,
                grand_hamiltonian=grand,
                confluence=confluence,
                sequence=pattern.events,
                future=pattern.events[end:],
                confidence=extraction.confidence,
                itfdf_similarity=itfdf,
            )
        )
    return result


def _present_metrics(
    kb: KnowledgeBase, pattern: IndexedPattern, first: int, end: int, present: Sequence[str]
) -> tuple[float, float, float, float]:
    """entropy, hamiltonian, grand_hamiltonian, confluence of one present span.

    They depend only on the span and on statistics that change with the next learn, so they
    are memoised per (pattern, span) in the knowledge base, which drops the memo on learn.
    """
    key = (pattern.name, first, end)
    cache = kb.present_metrics
    values = cache.get(key)
    if values is None:
        terms, totals = kb.terms, kb.totals
        values = (
            metrics.entropy(present, terms),
            metrics.hamiltonian(present, len(kb.symbols)),
            metrics.grand_hamiltonian(present, terms),
            metrics.confluence(
                present, pattern.record.frequency, totals.total_pattern_frequencies, terms
            ),
        )
        if len(cache) >= _PRESENT_MEMO_LIMIT:
            cache.clear()
        cache[key] = values
    return values
