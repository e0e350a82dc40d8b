"""Emotive averaging and the per-pattern persistence window (spec §2.5, §4.2)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def mean_emotives(dicts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per key, the mean over the dicts that carry it (absent keys are not zeros).

    Keys keep first-appearance order; values are summed in list order and divided by their
    count, exactly like upstream's ``sum(v) / len(v)``. Only where that sum overflows (finite
    values near ±1.8e308) the mean is taken term by term instead, so a mean of finite values is
    always finite: an infinite one could not be answered as JSON nor persisted.
    """
    collected: dict[str, list[float]] = {}
    for emotives in dicts:
        for key, value in emotives.items():
            collected.setdefault(key, []).append(value)
    return {key: _mean(values) for key, values in collected.items()}


def _mean(values: list[float]) -> float:
    mean = sum(values) / len(values)
    if math.isinf(mean) and all(map(math.isfinite, values)):
        return math.fsum(value / len(values) for value in values)
    return mean


def nonzero(emotives: Mapping[str, float]) -> dict[str, float]:
    """Drop keys whose value is exactly 0 (what gets stored per learn)."""
    return {key: value for key, value in emotives.items() if value != 0}


def next_window(
    window: Sequence[dict[str, float]], learned: Mapping[str, float], persistence: int
) -> list[dict[str, float]]:
    """The pattern's window after one learn with learn-time mean ``learned``.

    An empty mean leaves the window as it is. Otherwise the non-zero part is appended (an
    all-zero mean appends ``{}``) and only the last ``persistence`` entries are kept. An empty
    ``window`` is upstream's stored ``{}``; treating it as an empty list fixes QUIRK-6.
    """
    if not learned:
        return list(window)
    return [*window, nonzero(learned)][-persistence:]
