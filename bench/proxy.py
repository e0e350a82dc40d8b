"""Proxy benchmark: latency the session manager adds in front of a processor container.

    .venv/bin/python bench/proxy.py [--requests 2000] [--image kato:fastapi] [--log-level INFO]

Starts a real manager (subprocess on loopback, temporary state dir) and one session, then
sends the same requests (POST /observe, GET /stm) through `/session/<id>/…` and directly to
the container's own URL with its token, interleaved in one run so both see the same load.
Reports per-request latency p50/p99 through the manager and direct, the added latency
(difference of the percentiles) at concurrency 1 and 10, and requests/s through the manager.
Target: added p50 ≤ 2 ms. Everything it makes is labelled and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
import httpx
from harness import percentile, running_manager
from rich.console import Console
from rich.table import Table

OBSERVE = {"strings": ["alpha", "beta"]}


class Target:
    """One way to reach the processor: through the manager or direct with the token."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base
        self.headers = headers
        self.latencies: list[float] = []

    async def call(self, http: aiohttp.ClientSession, method: str, path: str, body: Any) -> None:
        started = time.perf_counter()
        async with http.request(method, self.base + path, json=body, headers=self.headers) as r:
            await r.read()
            assert r.status == 200, r.status
        self.latencies.append(time.perf_counter() - started)


async def interleaved(proxied: Target, direct: Target, requests: int, concurrency: int) -> None:
    """Each worker alternates which side goes first, so drift hits both sides equally."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(count: int) -> None:
            for i in range(count):
                first, second = (proxied, direct) if i % 2 else (direct, proxied)
                method, path, body = (
                    ("POST", "/observe", OBSERVE) if i % 4 < 2 else ("GET", "/stm", None)
                )
                await first.call(http, method, path, body)
                await second.call(http, method, path, body)

        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))


def measured(
    first: Target, second: Target, requests: int, concurrency: int
) -> tuple[list[float], list[float]]:
    """Both sides' latencies of `requests` interleaved requests, after 200 to warm up."""
    asyncio.run(interleaved(first, second, 200, concurrency))
    first.latencies.clear()
    second.latencies.clear()
    asyncio.run(interleaved(first, second, requests, concurrency))
    return first.latencies, second.latencies


async def throughput(proxied: Target, requests: int, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(count: int) -> None:
            for _ in range(count):
                await proxied.call(http, "GET", "/stm", None)

        started = time.perf_counter()
        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
        return (requests // concurrency * concurrency) / (time.perf_counter() - started)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per side and concurrency")
    parser.add_argument("--image", default="kato:fastapi")
    parser.add_argument("--log-level", default="INFO", help="the manager's LOG_LEVEL")
    args = parser.parse_args()
    with running_manager(KATO_IMAGE=args.image, LOG_LEVEL=args.log_level) as (manager, _):
        with httpx.Client(base_url=manager.url, timeout=120) as http:
            session = http.post(
                "/session/create", json={"genes": {"max_pattern_length": 8}}
            ).json()
        proxied_base = f"{manager.url}/session/{session['session_id']}"
        direct_headers = {"Authorization": f"Bearer {session['token']}"}
        table = Table(title=f"proxy overhead ({args.requests} requests per side)")
        for column in (
            "concurrency",
            "via manager p50/p99 ms",
            "direct p50/p99 ms",
            "added p50 ms",
            "added p99 ms",
        ):
            table.add_column(column, justify="right")
        for concurrency in (1, 10):
            proxied, direct = Target(proxied_base, {}), Target(session["url"], direct_headers)
            p, d = measured(proxied, direct, args.requests, concurrency)
            table.add_row(
                str(concurrency),
                f"{ms(percentile(p, 50))} / {ms(percentile(p, 99))}",
                f"{ms(percentile(d, 50))} / {ms(percentile(d, 99))}",
                ms(percentile(p, 50) - percentile(d, 50)),
                ms(percentile(p, 99) - percentile(d, 99)),
            )
        console = Console()
        console.print(table)
        rps = asyncio.run(throughput(Target(proxied_base, {}), args.requests, 10))
        console.print(f"through the manager, GET /stm at concurrency 10: {rps:.0f} requests/s")
        console.print("target: added p50 ≤ 2 ms")


if __name__ == "__main__":
    main()
