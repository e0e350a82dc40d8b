"""Ensemble metrics of a prediction list (spec §5.7).

Only ``itfdf_similarity`` (and so ``potential``) depends on the other candidates; entropy, the
two Hamiltonians and confluence depend on the prediction alone plus global statistics, which
lets the caller compute them only for the predictions that survive the ``max_predictions`` cap.
Sums run in a fixed order (state/present order, or sorted symbols) so results are reproducible.
Pure Python on purpose: numpy is reserved for vector observations (start-up time, idle memory).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Statistics:
    """Global inputs read once per prediction computation.

    ``state_weights`` is the state half of the itfdf cosine, identical for every candidate:
    ``u_s = P(s) * count_S(s)`` for the state symbols with ``P(s) > 0``, in state order, and
    ``state_norm_sq`` is ``Σ u_s²``.
    """

    probabilities: Mapping[str, float]  # P(s) for the ensemble's matches ∪ missing only
    ensemble_frequency: int  # F_E
    state_weights: Mapping[str, float]
    state_norm_sq: float

    @classmethod
    def build(
        cls,
        probabilities: Mapping[str, float],
        state: Sequence[str],
        ensemble_frequency: int,
    ) -> Statistics:
        weights = {
            symbol: p * count
            for symbol, count in Counter(state).items()
            if (p := probabilities.get(symbol, 0.0)) > 0.0
        }
        norm_sq = 0.0
        for weight in weights.values():
            norm_sq += weight * weight
        return cls(probabilities, ensemble_frequency, weights, norm_sq)


def itfdf_similarity(present: Sequence[str], frequency: int, stats: Statistics) -> float:
    """``round(1 - d * frequency / F_E, 12)`` with d the cosine distance of the P-weighted
    symbol counts of state (u) and present (v); d = 1 when either vector is all zero.

    Only symbols with P > 0 contribute, so the sums run over the state's weighted symbols
    (precomputed) and the present's symbols (always in the probability cache).
    """
    if stats.ensemble_frequency == 0:
        return 0.0
    counts: dict[str, int] = {}
    for symbol in present:
        counts[symbol] = counts.get(symbol, 0) + 1
    probabilities, state_weights = stats.probabilities, stats.state_weights
    dot = norm_v = 0.0
    for symbol, count in counts.items():
        v = probabilities.get(symbol, 0.0) * count
        norm_v += v * v
        u = state_weights.get(symbol)
        if u is not None:
            dot += u * v
    distance = 1.0
    if stats.state_norm_sq > 0.0 and norm_v > 0.0:
        cosine = dot / (math.sqrt(stats.state_norm_sq) * math.sqrt(norm_v))
        if not math.isnan(cosine):
            distance = 1 - cosine
    return round(1 - distance * frequency / stats.ensemble_frequency, 12)


def potential(
    evidence: float, confidence: float, snr: float, itfdf: float, fragmentation: float
) -> float:
    """``(evidence + confidence) * snr + itfdf + 1/blocks`` (no block term for zero blocks)."""
    phi = 0.0 if fragmentation == -1 else 1 / (fragmentation + 1)
    return round((evidence + confidence) * snr + itfdf + phi, 12)


@dataclass(frozen=True, slots=True)
class SymbolTerms:
    """Per-symbol summands of the present-only metrics, fixed between two learns.

    A present symbol is always in its prediction's matches or missing, so its probability in the
    ensemble cache is just ``pattern_member_frequency / T_sip``; caching these terms per symbol
    gives the same floats as computing them per prediction.
    """

    probability: float
    entropy: float  # -p·log2(p), 0 for p = 0
    hamiltonian: float  # -p·log(p, N_sym), 0 for p = 0 or N_sym <= 1
    log10: float  # log10(p), log10(1e-10) for p = 0

    @classmethod
    def of(cls, probability: float, symbol_count: int) -> SymbolTerms:
        p = probability
        return cls(
            p,
            -p * math.log(p, 2) if p > 0 else 0.0,
            _h(p, symbol_count),
            math.log10(p if p > 0 else 1e-10),
        )


def entropy(present: Sequence[str], terms: Mapping[str, SymbolTerms]) -> float:
    """Σ over present occurrences of ``-P log2 P``."""
    total = 0.0
    for symbol in present:
        total += terms[symbol].entropy
    return round(total, 12)


def _h(p: float, base: int) -> float:
    return -p * math.log(p, base) if p > 0 and base > 1 else 0.0


def hamiltonian(present: Sequence[str], symbol_count: int) -> float:
    """One term per occurrence of the in-present relative frequency, log base N_sym."""
    size = len(present)
    if not size:
        return 0.0
    total = 0.0
    if len(set(present)) == size:  # all distinct: every term is h(1/size)
        term = _h(1 / size, symbol_count)
        for _ in range(size):
            total += term
    else:
        counts = Counter(present)
        by_count = {count: _h(count / size, symbol_count) for count in set(counts.values())}
        for symbol in present:
            total += by_count[counts[symbol]]
    return round(total, 12)


def grand_hamiltonian(present: Sequence[str], terms: Mapping[str, SymbolTerms]) -> float:
    """One term per distinct present symbol of ``h(P(s))``, log base N_sym."""
    total = 0.0
    for symbol in sorted(set(present)):
        total += terms[symbol].hamiltonian
    return round(total, 12)


def confluence(
    present: Sequence[str], frequency: int, total_pattern_frequencies: int,
    terms: Mapping[str, SymbolTerms],
) -> float:
    """``frequency/T_pf * (1 - Π P'(s))`` with the product taken as 10 ** Σ log10 (parity)."""
    share = frequency / total_pattern_frequencies if total_pattern_frequencies else 0.0
    if present:
        log_sum = 0.0
        for symbol in present:
            log_sum += terms[symbol].log10
        chance = 10**log_sum
    else:
        chance = 0
    return round(share * (1 - chance), 12)
