"""Wake benchmark: a request to a paused session against one to a hibernated session, one at a
time and all at once.

    .venv/bin/python bench/wake.py [--sessions 20] [--mass 50] [--image kato:fastapi]

One real manager (a subprocess, a temporary state directory) on the real engine, with the
paused tier on (`KATO_PAUSE_AFTER=1`, reaper every 0.5 s) and no warm pool:
- wake from paused: each session paused by the reaper (`docker pause`), then one request each,
  in turn: request → answer, p50 and p99;
- wake from hibernated: each session hibernated through the API (snapshot saved, container
  removed), then one request each, in turn: the same figures, in the same run;
- mass wake: `--mass` sessions paused (then hibernated), one request to each at the same
  moment: time until the last answer, and how many were not served (503 after
  `KATO_SPAWN_WAIT`).
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

from container_manager.testing import labelled_containers


def make_sessions(http: httpx.Client, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        created = http.post("/session/create", json={})
        created.raise_for_status()
        session_id = created.json()["session_id"]
        observed = http.post(f"/session/{session_id}/observe", json={"strings": ["kept"]})
        observed.raise_for_status()
        ids.append(session_id)
    return ids


def all_paused(labels: dict[str, str], count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while sum(c.status == "paused" for c in labelled_containers(labels)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{count} sessions were not paused within {timeout:g} s")
        time.sleep(0.1)


def hibernate_all(http: httpx.Client, ids: list[str]) -> None:
    for session_id in ids:
        answer = http.post(f"/session/{session_id}/hibernate")
        if answer.json().get("status") != "hibernated":
            raise SystemExit(f"session {session_id} did not hibernate: {answer.text}")


def one_at_a_time(http: httpx.Client, ids: list[str]) -> list[float]:
    took = []
    for session_id in ids:
        started = time.perf_counter()
        answer = http.get(f"/session/{session_id}/stm")
        took.append(time.perf_counter() - started)
        if answer.json().get("stm") != [["kept"]]:
            raise SystemExit(f"session {session_id} lost its STM: {answer.text}")
    return took


def all_at_once(url: str, ids: list[str]) -> tuple[float, int]:
    """(seconds until the last answer, how many were not a 200)."""

    def one(session_id: str) -> int:
        with httpx.Client(base_url=url, timeout=300) as own:
            return own.get(f"/session/{session_id}/stm").status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(len(ids)) as threads:
        statuses = list(threads.map(one, ids))
    return time.perf_counter() - started, sum(status != 200 for status in statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="sessions woken one at a time")
    parser.add_argument("--mass", type=int, default=50, help="sessions woken all at once")
    parser.add_argument("--image", default="kato:fastapi", help="processor image")
    args = parser.parse_args()
    settings = {
        "KATO_IMAGE": args.image,
        "KATO_POOL_SIZE": "0",
        "KATO_PAUSE_AFTER": "1",
        "KATO_IDLE_TIMEOUT": "3600",
        "KATO_REAP_INTERVAL": "0.5",
        "KATO_MAX_SESSIONS": str(max(args.sessions, args.mass) + 5),
    }
    table = Table(title="Wake: one request to a session that is not running (ms)")
    for column in ("case", "n", "p50", "p99", "ratio p50"):
        table.add_column(column)
    console = Console()
    with (
        running_manager(**settings) as (manager, labels),
        httpx.Client(base_url=manager.url, timeout=300) as http,
    ):
        console.print(f"making {args.sessions} sessions…")
        ids = make_sessions(http, args.sessions)
        all_paused(labels, len(ids))
        paused = one_at_a_time(http, ids)
        hibernate_all(http, ids)
        hibernated = one_at_a_time(http, ids)
        for session_id in ids:
            http.delete(f"/session/{session_id}")
        base = percentile(hibernated, 50)
        for case, values in (("from paused", paused), ("from hibernated", hibernated)):
            table.add_row(
                f"wake {case}, one at a time",
                str(len(values)),
                f"{percentile(values, 50) * 1000:.1f}",
                f"{percentile(values, 99) * 1000:.1f}",
                f"{percentile(values, 50) / base:.3f}",
            )
        console.print(f"making {args.mass} sessions for the mass wake…")
        ids = make_sessions(http, args.mass)
        all_paused(labels, len(ids))
        mass_paused = all_at_once(manager.url, ids)
        hibernate_all(http, ids)
        mass_hibernated = all_at_once(manager.url, ids)
    console.print(table)
    mass = Table(title=f"Mass wake: {args.mass} sessions, one request each at the same moment")
    for column in ("case", "until the last answer", "not served"):
        mass.add_column(column)
    for case, (seconds, failed) in (
        ("from paused", mass_paused),
        ("from hibernated", mass_hibernated),
    ):
        mass.add_row(case, f"{seconds:.2f} s", str(failed))
    console.print(mass)


if __name__ == "__main__":
    main()
