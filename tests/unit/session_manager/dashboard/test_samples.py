"""The 15-minute ring: totals read from the manager's real Prometheus objects, points between
two samples computed like Prometheus's rate() and histogram_quantile()."""

from __future__ import annotations

import math

import pytest

from session_manager.dashboard.samples import SampleRing, quantile, read_totals
from session_manager.metrics import ManagerMetrics


def test_quantile_interpolates_inside_the_bucket() -> None:
    buckets = ((0.001, 0.0), (0.01, 10.0), (math.inf, 10.0))
    assert quantile(0.5, buckets) == pytest.approx(0.0055)
    assert quantile(0.99, buckets) == pytest.approx(0.001 + 0.009 * 0.99)


def test_quantile_of_the_overflow_bucket_is_its_lower_bound() -> None:
    assert quantile(0.99, ((0.5, 1.0), (math.inf, 100.0))) == 0.5


def test_quantile_of_nothing_is_none() -> None:
    assert quantile(0.5, ()) is None
    assert quantile(0.5, ((0.1, 0.0), (math.inf, 0.0))) is None


def test_a_point_is_what_happened_between_two_samples() -> None:
    metrics = ManagerMetrics()
    metrics.proxied.labels("200").inc(5)  # before the first sample: not in the point
    ring = SampleRing(window=900, interval=10)
    ring.add(100.0, read_totals(metrics))
    metrics.proxied.labels("200").inc(18)
    metrics.proxied.labels("502").inc(2)
    for _ in range(20):
        metrics.proxy_seconds.observe(0.003)
    metrics.spawn_seconds.labels("create").observe(2.0)
    metrics.spawn_seconds.labels("create").observe(4.0)
    metrics.spawn_seconds.labels("wake").observe(1.5)
    metrics.spawns.labels("wake", "ok").inc()
    metrics.spawns.labels("create", "ok").inc(2)
    metrics.reaps.labels("hibernation").inc(2)
    metrics.reaps.labels("expiry").inc(7)
    ring.add(110.0, read_totals(metrics))

    (point,) = ring.points()
    assert point.time == 110.0
    assert point.requests_per_second == pytest.approx(2.0)
    assert 2.0 < point.latency_p50_ms < 5.0  # type: ignore[operator]  # the 2-5 ms bucket
    assert point.spawn_seconds == pytest.approx(3.0)
    assert point.wake_seconds == pytest.approx(1.5)
    assert point.wakes_per_minute == 1
    assert point.hibernations_per_minute == 2


def test_quiet_intervals_have_no_latency_or_durations() -> None:
    metrics = ManagerMetrics()
    ring = SampleRing(window=900, interval=5)
    ring.add(0.0, read_totals(metrics))
    ring.add(5.0, read_totals(metrics))
    (point,) = ring.points()
    assert point.requests_per_second == 0
    assert point.latency_p50_ms is None and point.spawn_seconds is None
    assert point.wake_seconds is None


def test_hibernations_and_wakes_are_counted_over_the_trailing_minute() -> None:
    metrics = ManagerMetrics()
    ring = SampleRing(window=900, interval=30)  # two samples make a minute
    for when in range(0, 150, 30):
        if when in (30, 60, 120):
            metrics.reaps.labels("hibernation").inc()
        ring.add(float(when), read_totals(metrics))
    assert [p.hibernations_per_minute for p in ring.points()] == [1, 2, 1, 1]


def test_the_ring_keeps_only_its_window() -> None:
    metrics = ManagerMetrics()
    ring = SampleRing(window=20, interval=10)
    for when in range(0, 60, 10):
        ring.add(float(when), read_totals(metrics))
    assert [point.time for point in ring.points()] == [40.0, 50.0]
