"""Warm pool benchmark: creates served from the pool against cold starts, bursts, eviction.

    .venv/bin/python bench/pool.py [--sessions 20] [--image kato:fastapi]

Real managers (subprocesses, temporary state directories) on the real engine:
- sequential creates, pool hit (`KATO_POOL_SIZE=2`, each create waits until the pool is full
  again) against cold (`KATO_POOL_SIZE=0`): create → 201, and create → first proxied answer
  (`POST /observe`);
- a burst of 10 concurrent creates with `KATO_POOL_SIZE=10` (pool full) against an empty pool:
  create → 201, p50 and p95;
- at the cap (`KATO_MAX_SESSIONS=3`, `KATO_EVICT_MIN_IDLE=0`, no pool): each create first
  hibernates the least recently used session (snapshot saved), then starts cold: p50.
Everything made is labelled and removed at the end.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from harness import percentile, running_manager
from rich.console import Console
from rich.table import Table

from session_manager.testing import ManagerProcess

_BURST = 10


def pool_ready(http: httpx.Client, size: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    line = f"kato_pool_ready {float(size)}"
    while line not in http.get("/metrics").text.splitlines():
        if time.monotonic() > deadline:
            raise SystemExit(f"the pool did not reach {size} within {timeout:g} s")
        time.sleep(0.05)


def timed_create(http: httpx.Client) -> tuple[float, float]:
    """(create → 201, create → first proxied answer) in seconds."""
    started = time.perf_counter()
    created = http.post("/session/create", json={})
    created.raise_for_status()
    answered = time.perf_counter() - started
    session_id = created.json()["session_id"]
    http.post(f"/session/{session_id}/observe", json={"strings": ["x"]}).raise_for_status()
    return answered, time.perf_counter() - started


def sequential(manager: ManagerProcess, sessions: int, pool: int) -> list[tuple[float, float]]:
    results = []
    with httpx.Client(base_url=manager.url, timeout=120) as http:
        for _ in range(sessions):
            if pool:
                pool_ready(http, pool)
            results.append(timed_create(http))
    return results


def burst(manager: ManagerProcess, pool: int) -> list[float]:
    with httpx.Client(base_url=manager.url, timeout=120) as http:
        if pool:
            pool_ready(http, pool)

        def one(_: int) -> float:
            with httpx.Client(base_url=manager.url, timeout=120) as own:
                return timed_create(own)[0]

        with ThreadPoolExecutor(_BURST) as threads:
            return list(threads.map(one, range(_BURST)))


def at_cap(manager: ManagerProcess, creates: int) -> list[float]:
    with httpx.Client(base_url=manager.url, timeout=120) as http:
        for _ in range(3):
            timed_create(http)
        return [timed_create(http)[0] for _ in range(creates)]


def ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct) * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="sequential creates per case")
    parser.add_argument("--image", default="kato:fastapi", help="processor image")
    args = parser.parse_args()
    image = {"KATO_IMAGE": args.image}
    table = Table(title="Warm pool (ms)")
    for column in ("case", "n", "p50", "p95", "p99"):
        table.add_column(column)

    def add(case: str, values: list[float]) -> None:
        table.add_row(case, str(len(values)), ms(values, 50), ms(values, 95), ms(values, 99))

    for name, pool in (("pool hit", 2), ("cold", 0)):
        with running_manager(KATO_POOL_SIZE=str(pool), **image) as (manager, _):
            results = sequential(manager, args.sessions, pool)
        add(f"{name}: create → 201", [r[0] for r in results])
        add(f"{name}: create → first answer", [r[1] for r in results])
    for name, pool in (
        (f"burst of {_BURST}, pool {_BURST}", _BURST),
        (f"burst of {_BURST}, no pool", 0),
    ):
        with running_manager(KATO_POOL_SIZE=str(pool), **image) as (manager, _):
            add(f"{name}: create → 201", burst(manager, pool))
    settings = {"KATO_MAX_SESSIONS": "3", "KATO_EVICT_MIN_IDLE": "0", **image}
    with running_manager(**settings) as (manager, _):
        add("at the cap, by eviction: create → 201", at_cap(manager, 5))
    Console().print(table)


if __name__ == "__main__":
    main()
