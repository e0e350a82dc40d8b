"""A small in-memory ring of the manager's metric totals, turned into per-interval points for
the dashboard's charts (the last 15 minutes: requests/s, proxy latency p50/p99, spawn and wake
durations, hibernations and wakes per minute).

The totals are read from the manager's own Prometheus objects (`ManagerMetrics`), so the charts
and `/metrics` can never disagree; a point is the difference of two consecutive totals, the way
Prometheus's `rate()` and `histogram_quantile()` would compute it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.metrics import MetricWrapperBase

from ..metrics import ManagerMetrics

__all__ = ["Point", "SampleRing", "Totals", "quantile", "read_totals"]


@dataclass(frozen=True)
class Totals:
    """Cumulative counts at one instant (they only grow while the process lives)."""

    proxied: float = 0.0
    #: (upper bound, cumulative count) of the proxy latency histogram, +Inf last.
    latency_buckets: tuple[tuple[float, float], ...] = ()
    spawn_sum: dict[str, float] = field(default_factory=dict)
    spawn_count: dict[str, float] = field(default_factory=dict)
    wakes: float = 0.0
    hibernations: float = 0.0


@dataclass(frozen=True)
class Point:
    """What happened between two samples; None where nothing happened (no line drawn)."""

    time: float
    requests_per_second: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    spawn_seconds: float | None
    wake_seconds: float | None
    hibernations_per_minute: float
    wakes_per_minute: float


def read_totals(metrics: ManagerMetrics) -> Totals:
    proxied = sum(value for _, _, value in _samples(metrics.proxied, "_total"))
    buckets = tuple(
        (float(labels["le"]), value)
        for _, labels, value in _samples(metrics.proxy_seconds, "_bucket")
    )
    spawn_sum = {labels["reason"]: v for _, labels, v in _samples(metrics.spawn_seconds, "_sum")}
    spawn_count = {
        labels["reason"]: v for _, labels, v in _samples(metrics.spawn_seconds, "_count")
    }
    wakes = sum(
        value
        for _, labels, value in _samples(metrics.spawns, "_total")
        if labels == {"reason": "wake", "outcome": "ok"}
    )
    hibernations = sum(
        value
        for _, labels, value in _samples(metrics.reaps, "_total")
        if labels.get("kind") == "hibernation"
    )
    return Totals(proxied, buckets, spawn_sum, spawn_count, wakes, hibernations)


def _samples(metric: MetricWrapperBase, suffix: str) -> Iterable[tuple[str, dict[str, str], float]]:
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                yield sample.name, dict(sample.labels), float(sample.value)


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """`histogram_quantile` on cumulative buckets: linear inside the bucket that holds rank
    q; the +Inf bucket answers its lower bound. None when the histogram is empty."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, count
    return lower


class SampleRing:
    """The last `window` seconds of totals; `points()` gives one point per pair of samples."""

    def __init__(self, window: float, interval: float) -> None:
        self.interval = interval
        self._samples: deque[tuple[float, Totals]] = deque(maxlen=int(window / interval) + 1)

    def add(self, when: float, totals: Totals) -> None:
        self._samples.append((when, totals))

    def points(self) -> list[Point]:
        samples = list(self._samples)
        per_minute = max(round(60 / self.interval), 1)
        return [
            _point(samples[k - 1], samples[k], samples[max(k - per_minute, 0)])
            for k in range(1, len(samples))
        ]


def _point(
    before: tuple[float, Totals], after: tuple[float, Totals], minute_ago: tuple[float, Totals]
) -> Point:
    """Rates and quantiles over the interval; hibernations and wakes over the trailing minute
    (a count, not a 5-second rate times 12, which would turn one event into a spike of 12)."""
    (t0, a), (t1, b), (_, m) = before, after, minute_ago
    elapsed = max(t1 - t0, 1e-9)
    latency = _bucket_deltas(a.latency_buckets, b.latency_buckets)
    p50, p99 = quantile(0.5, latency), quantile(0.99, latency)
    return Point(
        time=t1,
        requests_per_second=(b.proxied - a.proxied) / elapsed,
        latency_p50_ms=p50 * 1000 if p50 is not None else None,
        latency_p99_ms=p99 * 1000 if p99 is not None else None,
        spawn_seconds=_mean_delta(a, b, "create"),
        wake_seconds=_mean_delta(a, b, "wake"),
        hibernations_per_minute=b.hibernations - m.hibernations,
        wakes_per_minute=b.wakes - m.wakes,
    )


def _bucket_deltas(
    before: tuple[tuple[float, float], ...], after: tuple[tuple[float, float], ...]
) -> tuple[tuple[float, float], ...]:
    if len(before) != len(after):  # the first sample of a histogram: everything is new
        return after
    return tuple((le, b - a) for (le, a), (_, b) in zip(before, after, strict=True))


def _mean_delta(a: Totals, b: Totals, reason: str) -> float | None:
    count = b.spawn_count.get(reason, 0.0) - a.spawn_count.get(reason, 0.0)
    if count <= 0:
        return None
    return (b.spawn_sum.get(reason, 0.0) - a.spawn_sum.get(reason, 0.0)) / count
