"""Lifecycle events benchmark: what an event costs the request path, and how soon it arrives.

    .venv/bin/python bench/events.py [--appends 2000] [--sessions 20] [--image kato:fastapi]

1. In process: `EventLog.append` (the one write `SessionService` adds to a state change: the
   event and its webhook outbox row, one SQLite commit with synchronous=FULL) on a temp dir.
2. Real manager (subprocess, real containers) with a webhook to a loopback receiver and a
   `kato.client` SSE follower: for `--sessions` sessions created and deleted one at a time,
   the time from an event's own timestamp (taken when it is logged) to its arrival at the SSE
   follower and at the webhook receiver (same machine, same clock).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from harness import percentile, running_manager
from rich.console import Console
from rich.table import Table

from kato.client import Event, KatoClient, verify_webhook
from session_manager.events import EventLog, SessionEvent
from session_manager.testing import WebhookReceiver

SECRET = "benchmark-webhook-secret"


def append_latencies(count: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "events.sqlite3", backlog=10_000)
        samples = []
        for n in range(count):
            started = time.perf_counter()
            draft = SessionEvent(0, "session.created", time.time(), f"s{n}", "u", "starting")
            log.append(draft, ("http://x/",))
            samples.append(time.perf_counter() - started)
        log.close()
        return samples


def _age(event: Event, arrived: float) -> float:
    assert isinstance(event.time, datetime)
    return arrived - event.time.timestamp()


def delivery_latencies(sessions: int, image: str) -> tuple[list[float], list[float]]:
    receiver = WebhookReceiver().start()
    try:
        with running_manager(
            KATO_IMAGE=image,
            KATO_WEBHOOK_URL=receiver.url,
            KATO_WEBHOOK_SECRET=SECRET,
            LOG_LEVEL="WARNING",
        ) as (manager, _):
            streamed: list[float] = []
            expected = sessions * 3  # created, running, deleted

            def follow() -> None:
                with KatoClient(manager.url) as kato:
                    for event in kato.events(after=0):
                        streamed.append(_age(event, time.time()))
                        if len(streamed) == expected:
                            return

            follower = threading.Thread(target=follow, daemon=True)
            follower.start()
            arrivals: list[float] = []
            with KatoClient(manager.url) as kato:
                for _ in range(sessions):
                    seen = len(receiver.deliveries)
                    kato.create_session().delete()
                    for delivery in receiver.wait_for(seen + 3)[seen:]:
                        event = verify_webhook(
                            delivery.body, delivery.headers["X-Kato-Signature"], SECRET
                        )
                        arrivals.append(_age(event, delivery.received))
            follower.join(60)
            return streamed, arrivals
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--image", default="kato:fastapi")
    args = parser.parse_args()
    appends = append_latencies(args.appends)
    streamed, hooked = delivery_latencies(args.sessions, args.image)
    table = Table(title="lifecycle events")
    for column in ("measure", "n", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for name, values in (
        ("append event + outbox row (SQLite, FULL)", appends),
        ("logged → SSE client", streamed),
        ("logged → webhook receiver", hooked),
    ):
        stats = (percentile(values, 50), percentile(values, 99), max(values))
        table.add_row(name, str(len(values)), *(f"{v * 1000:.2f}" for v in stats))
    Console().print(table)


if __name__ == "__main__":
    main()
