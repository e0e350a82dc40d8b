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
    """Global inputs read once per prediction computation."""

    probabilities: Mapping[str, float]  # P(s) for the ensemble's matches ∪ missing only
    symbol_count: int  # N_sym
    total_pattern_frequencies: int  # T_pf
    ensemble_frequency: int  # F_E


def itfdf_similarity(
    present: Sequence[str], state_counts: Mapping[str, int], frequency: int, stats: Statistics
) -> float:
    """``round(1 - d * frequency / F_E, 12)`` with d the cosine distance of P-weighted counts."""
    if stats.ensemble_frequency == 0:
        return 0.0
    probabilities = stats.probabilities
    present_counts = Counter(present)
    dot = norm_u = norm_v = 0.0
    for symbol in sorted(set(present_counts) | set(state_counts)):
        p = probabilities.get(symbol, 0.0)
        if p == 0.0:
            continue
        u = p * state_counts.get(symbol, 0)
        v = p * present_counts.get(symbol, 0)
        dot += u * v
        norm_u += u * u
        norm_v += v * v
    distance = 1.0
    if norm_u > 0.0 and norm_v > 0.0:
        cosine = dot / (math.sqrt(norm_u) * math.sqrt(norm_v))
        if not math.isnan(cosine):
            distance = 1 - cosine
    return round(1 - distance * frequency / stats.ensemble_frequency, 12)


def potential(
    evidence: float, confidence: float, snr: float, itfdf: float, fragmentation: float
) -> float:
    """``(evidence + confidence) * snr + itfdf + 1/blocks`` (no block term for zero blocks)."""
    phi = 0.0 if fragmentation == -1 else 1 / (fragmentation + 1)
    return round((evidence + confidence) * snr + itfdf + phi, 12)


def entropy(present: Sequence[str], stats: Statistics) -> float:
    """Σ over present occurrences of ``-P log2 P``."""
    total = 0.0
    for symbol in present:
        p = stats.probabilities.get(symbol, 0.0)
        if p > 0:
            total += -p * math.log(p, 2)
    return round(total, 12)


def _h(p: float, base: int) -> float:
    return -p * math.log(p, base) if p > 0 and base > 1 else 0.0


def hamiltonian(present: Sequence[str], stats: Statistics) -> float:
    """One term per occurrence of the in-present relative frequency, log base N_sym."""
    if not present:
        return 0.0
    counts = Counter(present)
    size = len(present)
    return round(sum(_h(counts[s] / size, stats.symbol_count) for s in present), 12)


def grand_hamiltonian(present: Sequence[str], stats: Statistics) -> float:
    """One term per distinct present symbol of ``h(P(s))``, log base N_sym."""
    if not present:
        return 0.0
    probabilities = stats.probabilities
    return round(
        sum(_h(probabilities.get(s, 0.0), stats.symbol_count) for s in sorted(set(present))), 12
    )


def confluence(present: Sequence[str], frequency: int, stats: Statistics) -> float:
    """``frequency/T_pf * (1 - Π P'(s))`` with the product taken as 10 ** Σ log10 (parity)."""
    share = frequency / stats.total_pattern_frequencies if stats.total_pattern_frequencies else 0.0
    if present:
        log_sum = 0.0
        for symbol in present:
            p = stats.probabilities.get(symbol, 0.0)
            log_sum += math.log10(p if p > 0 else 1e-10)
        chance = 10**log_sum
    else:
        chance = 0
    return round(share * (1 - chance), 12)
