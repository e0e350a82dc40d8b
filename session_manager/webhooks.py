"""Signed webhooks: every lifecycle event POSTed to each `KATO_WEBHOOK_URL`, at least once.

The outbox is a table of the event log's SQLite file (`events.sqlite3`), written in the same
transaction as the event, so an event the log holds is delivered even if the manager dies right
after. One task per URL sends that URL's oldest pending event and only then the next: a
receiver sees events in id order, and a receiver that is down holds back only its own queue.
A failed attempt (no answer within `KATO_WEBHOOK_TIMEOUT`, or any status but 2xx) is retried
after `KATO_WEBHOOK_BACKOFF` seconds, doubling up to `KATO_WEBHOOK_BACKOFF_MAX`; after
`KATO_WEBHOOK_MAX_ATTEMPTS` attempts the event is dropped for that URL and logged. Attempts are
counted in the outbox, so back-off and the drop survive restarts. While a receiver is down its
queue holds at most `KATO_EVENT_BACKLOG` events (the oldest are dropped beyond that), and
deliveries to a URL that is no longer configured are dropped at start-up; every drop is
counted. Requests never wait for any of this: `EventBus.emit` only writes the row and wakes
the task.

Each POST carries the event JSON as body and `X-Kato-Signature: t=<unix>,v1=<hex>` (see
`kato.webhook_signing`), plus `X-Kato-Event-Id` and `X-Kato-Delivery-Attempt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kato.webhook_signing import SIGNATURE_HEADER, signature_header

from . import backoff
from .events import EventBus, EventLog
from .settings import ManagerSettings

__all__ = ["Delivery", "Outbox", "WebhookMetrics", "WebhookWorker", "open_events"]

logger = logging.getLogger("session_manager.webhooks")


@dataclass(frozen=True)
class Delivery:
    """One pending (event, URL) pair; `attempts` made so far."""

    event_id: int
    url: str
    body: bytes
    attempts: int
    next_attempt: float


class Outbox:
    """Reads and updates the `webhook_outbox` rows `EventLog.append` writes. Updates wait
    for the disk: the worker calls them in a thread."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def head(self, url: str) -> Delivery | None:
        rows = self.log.query(
            "SELECT event_id, url, body, attempts, next_attempt FROM webhook_outbox"
            " WHERE url = ? ORDER BY event_id LIMIT 1",
            (url,),
        )
        return Delivery(*rows[0]) if rows else None

    def remove(self, delivery: Delivery) -> None:
        self.log.execute(
            "DELETE FROM webhook_outbox WHERE event_id = ? AND url = ?",
            (delivery.event_id, delivery.url),
        )

    def postpone(self, delivery: Delivery, attempts: int, next_attempt: float) -> None:
        self.log.execute(
            "UPDATE webhook_outbox SET attempts = ?, next_attempt = ?"
            " WHERE event_id = ? AND url = ?",
            (attempts, next_attempt, delivery.event_id, delivery.url),
        )

    def trim(self, url: str, keep: int) -> int:
        """Drop all but the newest `keep` pending events of `url`; how many were dropped."""
        rows = self.log.query(
            "SELECT event_id FROM webhook_outbox WHERE url = ? ORDER BY event_id DESC"
            " LIMIT 1 OFFSET ?",
            (url, keep),
        )
        if not rows:
            return 0
        count = self.log.query(
            "SELECT COUNT(*) FROM webhook_outbox WHERE url = ? AND event_id <= ?", (url, rows[0][0])
        )[0][0]
        self.log.execute(
            "DELETE FROM webhook_outbox WHERE url = ? AND event_id <= ?", (url, rows[0][0])
        )
        return int(count)

    def forget_other_urls(self, urls: tuple[str, ...]) -> int:
        """Drop deliveries to URLs no longer configured; how many were dropped."""
        marks = ", ".join("?" for _ in urls) or "''"
        where = f"WHERE url NOT IN ({marks})"
        count = self.log.query(f"SELECT COUNT(*) FROM webhook_outbox {where}", urls)[0][0]
        self.log.execute(f"DELETE FROM webhook_outbox {where}", urls)
        return int(count)

    def pending(self) -> int:
        return int(self.log.query("SELECT COUNT(*) FROM webhook_outbox", ())[0][0])


class WebhookMetrics(Collector):
    """Made once per app (metrics outlive a lifespan); the outbox gauge is read at scrape."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outbox: Outbox | None = None
        self.deliveries = Counter(
            "kato_webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered (2xx), failed (will be retried), "
            "dropped (last attempt failed).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("delivered", "failed", "dropped"):  # at 0 from the start (see metrics)
            self.deliveries.labels(outcome)
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "kato_webhook_outbox_pending", "Webhook deliveries waiting in the outbox."
        )
        gauge.add_metric([], self.outbox.pending() if self.outbox is not None else 0)
        yield gauge


def open_events(
    settings: ManagerSettings, metrics: WebhookMetrics
) -> tuple[EventBus, WebhookWorker]:
    """The event log under KATO_STATE_DIR, its bus, and the (not yet started) webhook worker."""
    bus = EventBus(
        EventLog(settings.events_path, settings.event_backlog),
        settings.webhook_urls,
        settings.events_keepalive,
    )
    return bus, WebhookWorker(settings, bus, metrics)


class WebhookWorker:
    """One delivery task per URL; `start`/`stop` in the app's lifespan."""

    def __init__(
        self,
        settings: ManagerSettings,
        bus: EventBus,
        metrics: WebhookMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.urls = settings.webhook_urls
        self.secret = settings.webhook_secret or ""
        self.outbox = Outbox(bus.log)
        self.clock = clock
        self.deliveries = metrics.deliveries
        metrics.outbox = self.outbox
        self._wake = {url: asyncio.Event() for url in self.urls}
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aiohttp.ClientSession | None = None
        bus.on_event(self._notify)

    def start(self) -> None:
        stale = self.outbox.forget_other_urls(self.urls)  # before serving: no loop to block
        if stale:
            self.deliveries.labels("dropped").inc(stale)
            logger.warning("dropped %d deliveries to URLs no longer configured", stale)
        if not self.urls:
            return
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout)
        )
        self._tasks = [asyncio.create_task(self._run(url)) for url in self.urls]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _notify(self) -> None:
        for wake in self._wake.values():
            wake.set()

    async def _run(self, url: str) -> None:
        wake = self._wake[url]
        while True:
            wake.clear()
            overflow = await asyncio.to_thread(self.outbox.trim, url, self.settings.event_backlog)
            if overflow:
                self.deliveries.labels("dropped").inc(overflow)
                logger.error("webhook queue full: dropped the %d oldest events", overflow)
            delivery = self.outbox.head(url)
            if delivery is None:
                await wake.wait()
                continue
            delay = delivery.next_attempt - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.deliver_once(delivery)
            except Exception:  # a bug must not end deliveries for this URL
                extra = {"event_id": delivery.event_id}
                logger.exception("webhook delivery step failed", extra=extra)
                await asyncio.sleep(self.settings.webhook_backoff)

    async def deliver_once(self, delivery: Delivery) -> bool:
        """POST one delivery and record the outcome; True when the receiver took it."""
        attempt = delivery.attempts + 1
        problem = await self._post(delivery, attempt)
        if problem is None:
            await asyncio.to_thread(self.outbox.remove, delivery)
            self.deliveries.labels("delivered").inc()
            return True
        extra = {"event_id": delivery.event_id, "attempt": attempt, "problem": problem}
        if attempt >= self.settings.webhook_max_attempts:
            await asyncio.to_thread(self.outbox.remove, delivery)
            self.deliveries.labels("dropped").inc()
            logger.error("webhook dropped after %d attempts", attempt, extra=extra)
            return False
        wait = backoff.delay(
            attempt, self.settings.webhook_backoff, self.settings.webhook_backoff_max
        )
        await asyncio.to_thread(self.outbox.postpone, delivery, attempt, self.clock() + wait)
        self.deliveries.labels("failed").inc()
        logger.warning("webhook attempt failed, retry in %.1f s", wait, extra=extra)
        return False

    async def _post(self, delivery: Delivery, attempt: int) -> str | None:
        """None on a 2xx answer, else what went wrong (logged, never sent anywhere)."""
        assert self._client is not None, "start() first"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kato-session-manager",
            "X-Kato-Event-Id": str(delivery.event_id),
            "X-Kato-Delivery-Attempt": str(attempt),
            SIGNATURE_HEADER: signature_header(self.secret, delivery.body, int(self.clock())),
        }
        try:
            async with self._client.post(
                delivery.url, data=delivery.body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            return type(exc).__name__
