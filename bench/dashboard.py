"""Dashboard benchmark: what one page poll costs, and what the sampler's memory read costs.

    .venv/bin/python bench/dashboard.py [--sessions 5] [--polls 200] [--image kato:fastapi]

Starts a real manager with an API key (subprocess, temporary state dir), creates `--sessions`
real sessions, logs in like the page does (cookie), then times, interleaved: `GET
/dashboard/api/overview` (the page polls it every 2 s) and a proxied `GET /session/<id>/stm`
with the cookie and with `Authorization: Bearer` (the cookie check must cost nothing). Last,
`docker stats` of one container, which the sampler calls for each running session every 10 s.
Sequential; everything made is labelled and removed at the end.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import httpx
from harness import percentile, running_manager
from rich.console import Console
from rich.table import Table

from container_manager import ContainerSettings, KatoContainerManager

KEY = "bench-dashboard-key"


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def ok(response: httpx.Response) -> None:
    response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--image", default="kato:fastapi")
    args = parser.parse_args()
    with running_manager(KATO_IMAGE=args.image, KATO_API_KEY=KEY, LOG_LEVEL="WARNING") as (
        manager,
        _,
    ):
        bearer = httpx.Client(
            base_url=manager.url, timeout=120, headers={"Authorization": f"Bearer {KEY}"}
        )
        sessions = [bearer.post("/session/create", json={}).json() for _ in range(args.sessions)]
        page = httpx.Client(base_url=manager.url, timeout=120)
        ok(page.post("/dashboard/login", json={"api_key": KEY}))
        stm = f"/session/{sessions[0]['session_id']}/stm"
        rows: dict[str, list[float]] = {
            "GET /dashboard/api/overview (cookie)": [],
            "GET /session/<id>/stm (cookie)": [],
            "GET /session/<id>/stm (bearer)": [],
        }
        calls = [
            lambda: ok(page.get("/dashboard/api/overview")),
            lambda: ok(page.get(stm)),
            lambda: ok(bearer.get(stm)),
        ]
        for _ in range(args.polls):  # interleaved, so a busy moment of the machine hits all
            for samples, call in zip(rows.values(), calls, strict=True):
                samples.extend(timed(call, 1))
        containers = KatoContainerManager(ContainerSettings(state_dir=manager.state_dir))
        ids = [s["processor_id"] for s in sessions]
        rows["docker stats, one container"] = [
            t
            for pid in ids
            for t in timed(lambda pid=pid: containers.stats(pid), 3)  # type: ignore[misc]
        ]
    table = Table(title=f"dashboard, {args.sessions} running sessions")
    for column in ("what", "n", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for what, samples in rows.items():
        table.add_row(
            what,
            str(len(samples)),
            f"{percentile(samples, 50) * 1000:.2f}",
            f"{percentile(samples, 99) * 1000:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
