"""Counters for ``/metrics``: the spec's JSON object, or Prometheus text when asked for.

Each app owns its :class:`CollectorRegistry` so several apps (tests) never share series.
Prometheus scrapers send ``Accept: application/openmetrics-text…`` or ``text/plain;version=0.0.4``;
anything else (browsers, ``*/*``) gets the upstream JSON shape.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, exposition
from prometheus_client.openmetrics import exposition as openmetrics

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


def wants_prometheus(accept: str) -> bool:
    accept = accept.lower()
    return "application/openmetrics-text" in accept or (
        "text/plain" in accept and "version=0.0.4" in accept
    )


class ServiceMetrics:
    """Request counters/latency by route and status, plus the processor's own counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kato_http_requests",
            "HTTP requests handled, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "kato_http_request_duration_seconds",
            "Time from request start to the end of the response, by route and method.",
            ("route", "method"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.websocket_messages = Counter(
            "kato_ws_messages",
            "WebSocket messages handled, by message type.",
            ("type",),
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._gauges = {
            key: Gauge(f"kato_{key}", help_text, registry=self.registry)
            for key, help_text in (
                ("observations_processed", "Observations since start or last clear-all (time)."),
                ("patterns_learned", "Distinct patterns in long-term memory."),
                ("stm_size", "Events in short-term memory."),
                ("uptime_seconds", "Seconds since the service started."),
            )
        }

    def record_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:  # labels() validates and locks on every call: look it up once
            series = self._series[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
        series[0].inc()
        series[1].observe(seconds)

    def render(self, counters: dict[str, Any], accept: str) -> tuple[bytes, str]:
        """Prometheus exposition of the counters (OpenMetrics when the scraper prefers it)."""
        for key, gauge in self._gauges.items():
            gauge.set(float(counters[key]))
        if "application/openmetrics-text" in accept.lower():
            return openmetrics.generate_latest(self.registry), openmetrics.CONTENT_TYPE_LATEST
        return exposition.generate_latest(self.registry), exposition.CONTENT_TYPE_LATEST
