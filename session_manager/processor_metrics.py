"""`GET /metrics/processors`: every running processor's Prometheus metrics in one scrape.

Prometheus cannot scrape the processors itself: each container wants its own bearer token
(a scrape job has one), and processors on `KATO_NETWORK` publish no port. Scraping them
through the proxy (`/session/<id>/metrics`) would be worse: a proxied request counts as
activity, so the scrape would keep every session from hibernating, and would wake the
hibernated ones. This endpoint reads the routes the manager already holds, so it asks only
running containers and never touches a session's activity.

Each processor's samples get a `session_id` label; `kato_processor_metrics_up{session_id}`
says whether the processor answered within `PROCESSOR_SCRAPE_TIMEOUT` (one that does not
contributes only that 0, and the others are served anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from .errors import SessionError
from .processor_client import fetch_metrics
from .sessions import SessionService

__all__ = ["PROCESSOR_SCRAPE_TIMEOUT", "processor_metrics"]

#: Seconds one processor has to answer; below Prometheus's default scrape timeout (10 s).
PROCESSOR_SCRAPE_TIMEOUT = 5.0


class _Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


async def processor_metrics(service: SessionService) -> bytes:
    """The text exposition of every routed processor's metrics, labelled by session."""
    routes = list(service.routes.items())

    async def one(route_url: str, token: str) -> list[Metric] | None:
        try:
            body = await fetch_metrics(service.client, route_url, token, PROCESSOR_SCRAPE_TIMEOUT)
            return list(text_string_to_metric_families(body.decode("utf-8", "replace")))
        except (SessionError, ValueError):  # no answer in time, a bad answer: up 0
            return None

    answers = await asyncio.gather(*(one(r.internal_url, r.token) for _, r in routes))
    up = GaugeMetricFamily(
        "kato_processor_metrics_up",
        "1 when the session's processor answered the manager's metrics scrape, else 0.",
        labels=["session_id"],
    )
    merged: dict[str, Metric] = {}
    for (session_id, _), families in zip(routes, answers, strict=True):
        up.add_metric([session_id], 0 if families is None else 1)
        if families is not None:
            _merge(merged, families, session_id)
    registry = CollectorRegistry()
    registry.register(_Snapshot([up, *merged.values()]))
    return await asyncio.to_thread(generate_latest, registry)


def _merge(merged: dict[str, Metric], families: list[Metric], session_id: str) -> None:
    """Add one processor's samples to `merged` (one family per name), with `session_id`."""
    for family in families:
        target = merged.get(family.name)
        if target is None:
            target = merged[family.name] = Metric(family.name, family.documentation, family.type)
        target.samples.extend(
            sample._replace(labels={**sample.labels, "session_id": session_id})
            for sample in family.samples
        )
