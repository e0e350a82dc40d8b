"""Scale benchmark: what 10,000 session records cost the manager (issue 24).

    .venv/bin/python bench/scale.py [--sessions 10000] [--running 300] [--passes 30]
                                    [--starts 5] [--requests 500]

Builds `--sessions` records through the registry's own API (`SessionRegistry.put`, grouped
commits): hibernated ones with a 1 KB state snapshot and no container, 1% stopped, one in ten
with a TTL a month away, spread over 500 users. Then:

- start-up: a real manager (`python -m session_manager`, Docker engine, its own deployment:
  it sees no one else's containers) on that state directory, timed from spawn to `/ready`,
  `--starts` times, beside the same on an empty registry;
- `GET /sessions?limit=100` walking every page by its cursor, `?limit=100&user_id=…` and
  `GET /dashboard/api/overview`, sequential over real HTTP on loopback;
- in this process, `--running` sessions created through `SessionService.create` on the fake
  engine (container_manager.FakeBackend: no engine cost, so what is timed is the manager's own
  work), then `--passes` reconcile passes and reaper passes (`reconcile`, `reap_once`),
  each timed in CPU (`time.process_time`: every thread of the process, the registry's too)
  and in wall time. The real engine adds one container listing per reconcile pass.

Medians and p99 (nearest rank); the registry's size on disk last.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
from harness import percentile
from rich.console import Console
from rich.table import Table

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager
from container_manager.testing import remove_labelled, run_label
from session_manager.metrics import ManagerMetrics
from session_manager.reaper import reap_once
from session_manager.reconcile import reconcile
from session_manager.registry import SessionRecord, SessionRegistry
from session_manager.sessions import SessionService
from session_manager.settings import ManagerSettings
from session_manager.testing import ManagerProcess

USERS = 500
SNAPSHOT = b'{"stm": [["' + b"x" * 1000 + b'"]]}'


def record(index: int, now: float) -> SessionRecord:
    status = "stopped" if index % 100 == 99 else "hibernated"
    created = now - 86400 + index  # distinct, in creation order
    return SessionRecord(
        session_id=uuid.uuid4().hex,
        processor_id=f"s{index:011x}",
        user_id=f"user-{index % USERS}",
        status=status,
        created_at=created,
        last_activity=created,
        genes={"max_pattern_length": 3} if index % 3 == 0 else {},
        ttl_seconds=30 * 86400 if index % 10 == 0 else None,
        expires_at=created + 30 * 86400 if index % 10 == 0 else None,
        snapshot=SNAPSHOT if status == "hibernated" else None,
    )


async def build(path: Path, sessions: int) -> float:
    """Write the records through `registry.call(registry.put)`, 500 at a time (they share
    commits, as concurrent writes of the manager do); the seconds it took."""
    registry = SessionRegistry(path)
    started, now = time.perf_counter(), time.time()
    try:
        for first in range(0, sessions, 500):
            batch = range(first, min(first + 500, sessions))
            await asyncio.gather(*(registry.call(registry.put, record(i, now)) for i in batch))
    finally:
        registry.close()
    return time.perf_counter() - started


def start_up(state: Path, starts: int) -> list[float]:
    samples = []
    labels = run_label()
    try:
        for _ in range(starts):
            manager = ManagerProcess(state, labels, LOG_LEVEL="WARNING")
            started = time.perf_counter()
            manager.start(timeout=120)
            samples.append(time.perf_counter() - started)
            manager.stop()
    finally:
        remove_labelled(labels)
    return samples


def timed(call: Callable[[], httpx.Response], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call().raise_for_status()
        samples.append(time.perf_counter() - started)
    return samples


def http_rows(state: Path, requests: int) -> dict[str, list[float]]:
    labels = run_label()
    manager = ManagerProcess(state, labels, LOG_LEVEL="WARNING").start(timeout=120)
    try:
        with httpx.Client(base_url=manager.url, timeout=60) as http:
            cursor: list[str | None] = [None]

            def next_page() -> httpx.Response:  # walks every page, then starts again
                params = {"limit": "100"} | ({"cursor": cursor[0]} if cursor[0] else {})
                response = http.get("/sessions", params=params)
                cursor[0] = response.json().get("next_cursor")  # None: the first page again
                return response

            timed(next_page, 20)  # warm-up
            return {
                "GET /sessions?limit=100 (every page by cursor)": timed(next_page, requests),
                "GET /sessions?limit=100&user_id=user-7": timed(
                    lambda: http.get("/sessions", params={"limit": 100, "user_id": "user-7"}),
                    requests,
                ),
                "GET /sessions?limit=1000": timed(
                    lambda: http.get("/sessions", params={"limit": 1000}), requests // 5
                ),
                "GET /dashboard/api/overview": timed(
                    lambda: http.get("/dashboard/api/overview"), requests // 5
                ),
            }
    finally:
        manager.stop()
        remove_labelled(labels)


async def passes(state: Path, running: int, count: int) -> dict[str, list[float]]:
    """CPU and wall seconds of reconcile and reaper passes, on the fake engine."""
    settings = ManagerSettings(
        state_dir=state,
        pool_size=0,
        max_sessions=running + 10,
        spawn_queue=running + 10,
        idle_timeout=86400,
    )
    fake = FakeBackend()
    containers = KatoContainerManager(
        ContainerSettings(state_dir=state, ready_timeout=5), fake, http_transport=fake.transport()
    )
    registry = SessionRegistry(settings.registry_path)
    rows: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as client:
        service = SessionService(settings, registry, containers, client, ManagerMetrics())
        try:
            await asyncio.gather(*(service.create(f"user-{i}", {}, None) for i in range(running)))
            steps: dict[str, Callable[[SessionService], Awaitable[object]]] = {
                "reconcile pass": reconcile,
                "reaper pass": reap_once,
            }
            for name, step in steps.items():
                await step(service)  # warm-up
                cpu, wall = [], []
                for _ in range(count):
                    cpu_before, wall_before = time.process_time(), time.perf_counter()
                    await step(service)
                    cpu.append(time.process_time() - cpu_before)
                    wall.append(time.perf_counter() - wall_before)
                rows[f"{name}: manager CPU"] = cpu
                rows[f"{name}: wall"] = wall
        finally:
            await service.pool.stop()
            registry.close()
    return rows


def disk_size(state: Path) -> int:
    return sum(p.stat().st_size for p in state.glob("sessions.sqlite3*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--running", type=int, default=300)
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        empty, state = Path(tmp) / "empty", Path(tmp) / "state"
        for directory in (empty, state):
            directory.mkdir()
        built = asyncio.run(build(state / "sessions.sqlite3", args.sessions))
        console.print(f"{args.sessions} records written in {built:.1f} s")
        rows = {
            "start-up, empty registry (spawn to /ready)": start_up(empty, args.starts),
            f"start-up, {args.sessions} records (spawn to /ready)": start_up(state, args.starts),
        }
        rows |= http_rows(state, args.requests)
        size = disk_size(state)
        rows |= asyncio.run(passes(state, args.running, args.passes))
    table = Table(title=f"{args.sessions} sessions ({args.running} running on the fake engine)")
    for column in ("what", "n", "median ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for what, samples in rows.items():
        table.add_row(
            what,
            str(len(samples)),
            f"{statistics.median(samples) * 1000:.2f}",
            f"{percentile(samples, 99) * 1000:.2f}",
        )
    console.print(table)
    console.print(f"registry on disk: {size / 2**20:.1f} MiB (sessions.sqlite3 with -wal, -shm)")


if __name__ == "__main__":
    main()
