"""Density benchmark: how many running sessions this host holds, and what they cost.

    .venv/bin/python bench/density.py [--sessions 100,300] [--requests 1000] [--image kato:fastapi]
                                      [--router builtin|haproxy] [--spread-seconds 10]

For each N: a real manager (no warm pool, room for N), N sessions created a few at a time, each
observed and learned once through the manager; then, with all N running and idle:
- host CPU busy (from /proc/stat over `--idle-window` seconds) and the manager's RSS;
- idle memory per container (docker stats of a sample of `--stats-sample` containers);
- proxy latency at concurrency 1 (`GET /session/<id>/stm`, round robin over the N sessions);
- traffic spread over the N sessions at concurrency 10 (wrk, a Lua script taking the sessions
  in turn): requests/s and p99 through each router. With `--router haproxy` (the default when
  HAProxy is installed) the manager runs with `KATO_ROUTER=haproxy`, so the same N sessions are
  measured through HAProxy (the public port) and through the manager's builtin proxy (its API
  port); the latency above is then HAProxy's.
"Where it breaks" is whatever failed: creates refused or failed, proxied errors. Everything it
makes carries a run label and is removed at the end of each N.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
from harness import Run as WrkRun
from harness import percentile, run_wrk, running_manager
from rich.console import Console
from rich.table import Table

from kato.web.launcher import free_port

MIB = 2**20


@dataclass
class Run:
    sessions: int
    created: int
    create_errors: int
    host_busy: float
    manager_rss_mib: float
    container_mib: list[float]
    latencies_ms: list[float]
    proxy_errors: int
    create_seconds: float
    #: wrk at concurrency 10 over every session, by router.
    spread: dict[str, WrkRun]


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole host."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def host_busy(window: float) -> float:
    busy0, total0 = cpu_times()
    time.sleep(window)
    busy1, total1 = cpu_times()
    return 100.0 * (busy1 - busy0) / max(total1 - total0, 1)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one_session(http: httpx.Client) -> str | None:
    """Create, observe three events, learn; the session id, or None if anything failed."""
    try:
        created = http.post("/session/create", json={})
        if created.status_code != 201:
            return None
        sid = str(created.json()["session_id"])
        for word in ("a", "b", "c"):
            http.post(f"/session/{sid}/observe", json={"strings": [word]}).raise_for_status()
        http.post(f"/session/{sid}/learn").raise_for_status()
        return sid
    except httpx.HTTPError:
        return None


def measure(n: int, args: argparse.Namespace) -> Run:
    env = {
        "KATO_IMAGE": args.image,
        "KATO_MAX_SESSIONS": str(n + 10),
        "KATO_POOL_SIZE": "0",
        "KATO_IDLE_TIMEOUT": "86400",
        "KATO_PAUSE_AFTER": "0",  # all N running, none paused in place while the rest start
        "KATO_SPAWN_QUEUE": str(n),
        "LOG_LEVEL": "WARNING",
    }
    if args.router == "haproxy":
        env |= {"KATO_ROUTER": "haproxy", "KATO_API_PORT": str(free_port())}
    with running_manager(**env) as (manager, labels):
        started = time.perf_counter()
        with (
            httpx.Client(base_url=manager.url, timeout=120) as http,
            ThreadPoolExecutor(max_workers=args.parallel) as pool,
        ):
            ids = [sid for sid in pool.map(lambda _: one_session(http), range(n)) if sid]
        create_seconds = time.perf_counter() - started
        time.sleep(args.settle)
        busy = host_busy(args.idle_window)
        assert manager.pid is not None
        manager_rss = rss_mib(manager.pid)
        engine = docker.from_env()
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        containers = engine.api.containers(filters=filters)
        sample = random.Random(0).sample(containers, min(args.stats_sample, len(containers)))
        memory = []
        for summary in sample:
            stats = engine.api.stats(summary["Id"], stream=False, one_shot=True)
            raw = stats.get("memory_stats") or {}
            cache = int((raw.get("stats") or {}).get("total_inactive_file", 0))
            memory.append(max(int(raw.get("usage", 0)) - cache, 0) / MIB)
        engine.close()
        latencies: list[float] = []
        errors = 0
        with httpx.Client(base_url=manager.url, timeout=30) as http:
            for index in range(args.requests if ids else 0):
                sid = ids[index % len(ids)]
                begun = time.perf_counter()
                answer = http.get(f"/session/{sid}/stm")
                latencies.append((time.perf_counter() - begun) * 1000)
                errors += answer.status_code != 200
        routers = {args.router: manager.url}
        if args.router == "haproxy":
            routers["builtin"] = f"http://127.0.0.1:{env['KATO_API_PORT']}"
        spread = {
            name: spread_load(base, ids, args.spread_seconds) for name, base in routers.items()
        }
    return Run(
        n,
        len(ids),
        n - len(ids),
        busy,
        manager_rss,
        memory,
        latencies,
        errors,
        create_seconds,
        spread if ids else {},
    )


_ROUND_ROBIN = """
local paths = {}
for line in io.lines(os.getenv("KATO_BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def spread_load(base: str, ids: list[str], seconds: float) -> WrkRun:
    """wrk at concurrency 10 on `base`, each request to the next session's `GET /stm`."""
    with tempfile.TemporaryDirectory() as tmp:
        paths, script = Path(tmp) / "paths", Path(tmp) / "round_robin.lua"
        paths.write_text("".join(f"/session/{sid}/stm\n" for sid in ids))
        script.write_text(_ROUND_ROBIN)
        os.environ["KATO_BENCH_PATHS"] = str(paths)
        return run_wrk(base + "/", 10, seconds, {}, script=script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="100,300", help="comma-separated values of N")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--image", default="kato:fastapi")
    parser.add_argument("--parallel", type=int, default=4, help="creates in flight at once")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--idle-window", type=float, default=20.0)
    parser.add_argument("--stats-sample", type=int, default=10)
    parser.add_argument(
        "--router",
        choices=("builtin", "haproxy"),
        default="haproxy" if shutil.which("haproxy") else "builtin",
        help="KATO_ROUTER of the manager (haproxy: both routers measured on the same sessions)",
    )
    parser.add_argument("--spread-seconds", type=float, default=10.0)
    args = parser.parse_args()

    table = Table(title=f"density ({args.image}, 2 cores)")
    for column in (
        "N",
        "created",
        "create s",
        "host busy %",
        "manager RSS",
        "container MiB p50",
        "proxy p50 ms",
        "proxy p99 ms",
        "c10 spread: req/s, p99 ms by router",
        "errors",
    ):
        table.add_column(column)
    for n in (int(v) for v in args.sessions.split(",")):
        run = measure(n, args)
        table.add_row(
            str(n),
            str(run.created),
            f"{run.create_seconds:.0f}",
            f"{run.host_busy:.1f}",
            f"{run.manager_rss_mib:.0f} MiB",
            f"{percentile(run.container_mib, 50):.1f}" if run.container_mib else "-",
            f"{percentile(run.latencies_ms, 50):.2f}" if run.latencies_ms else "-",
            f"{percentile(run.latencies_ms, 99):.2f}" if run.latencies_ms else "-",
            "; ".join(
                f"{name} {r.rate:,.0f}, {r.p99 * 1000:.2f}" for name, r in run.spread.items()
            )
            or "-",
            f"{run.create_errors} creates, {run.proxy_errors} requests",
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
