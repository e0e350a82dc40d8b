"""Two users, one flooding: does the other's latency hold? (issue 22's benchmark, not a test)

    .venv/bin/python bench/tenancy.py [--requests 200] [--flooders 8] [--rate 50]
                                      [--image kato:fastapi]

A real manager (subprocess, real containers) with user tokens; alice and bob each own one
session. Bob sends `--requests` `GET /session/{id}/stm` one after another (paced at 20 a
second, a well-behaved user), first alone (quiet), then while alice's `--flooders` threads send
the same call to her own session as fast as they can; once with `KATO_RATE_LIMIT_USER=--rate`,
once with no limit. Printed: bob's p50/p99 in each phase, and how many of alice's calls were
answered 200 and 429.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter

import httpx
import jwt
from harness import percentile, running_manager
from rich.console import Console
from rich.table import Table

KEY = "bench-operator-key-0123456789"
SECRET = "bench-hs256-secret-0123456789abcdefgh"
#: Bob's calls per second: a well-behaved user, under any limit the script sets.
_PACE = 20


def _client(url: str, sub: str) -> httpx.Client:
    token = jwt.encode({"sub": sub, "exp": int(time.time()) + 3600}, SECRET, "HS256")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _latencies(http: httpx.Client, path: str, count: int) -> list[float]:
    """`count` calls, paced at `_PACE` a second (within bob's own limit)."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        http.get(path).raise_for_status()
        samples.append(time.perf_counter() - started)
        time.sleep(max(0.0, 1 / _PACE - samples[-1]))
    return samples


def run(image: str, requests: int, flooders: int, rate: float) -> dict[str, object]:
    env = {"KATO_API_KEY": KEY, "KATO_JWT_SECRET": SECRET, "KATO_IMAGE": image}
    if rate:
        env["KATO_RATE_LIMIT_USER"] = str(rate)
    with (
        running_manager(LOG_LEVEL="WARNING", **env) as (manager, _),
        _client(manager.url, "alice") as alice,
        _client(manager.url, "bob") as bob,
    ):
        mine = alice.post("/session/create").json()["session_id"]
        theirs = bob.post("/session/create").json()["session_id"]
        bob_path = f"/session/{theirs}/stm"
        _latencies(bob, bob_path, 20)  # warm
        quiet = _latencies(bob, bob_path, requests)
        stop = threading.Event()
        statuses: Counter[int] = Counter()

        def flood() -> None:
            with _client(manager.url, "alice") as http:
                while not stop.is_set():
                    statuses[http.get(f"/session/{mine}/stm").status_code] += 1

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(flooders)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        flooded = _latencies(bob, bob_path, requests)
        stop.set()
        for thread in threads:
            thread.join(10)
    return {"quiet": quiet, "flooded": flooded, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--flooders", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--image", default="kato:fastapi")
    args = parser.parse_args()
    table = Table(title=f"bob's GET /stm while alice floods ({args.flooders} threads)")
    for column in (
        "alice's limit",
        "phase",
        "p50 ms",
        "p99 ms",
        "p99 / quiet p99",
        "alice 200/429",
    ):
        table.add_column(column, justify="right")
    for rate in (args.rate, 0.0):
        result = run(args.image, args.requests, args.flooders, rate)
        quiet, flooded = result["quiet"], result["flooded"]
        assert isinstance(quiet, list) and isinstance(flooded, list)
        statuses = result["statuses"]
        assert isinstance(statuses, Counter)
        base = percentile(quiet, 99)
        label = f"{rate:g}/s" if rate else "none"
        for phase, values, alice in (
            ("quiet", quiet, ""),
            ("flood", flooded, f"{statuses[200]}/{statuses[429]}"),
        ):
            p50, p99 = percentile(values, 50), percentile(values, 99)
            table.add_row(
                label, phase, f"{p50 * 1000:.2f}", f"{p99 * 1000:.2f}", f"{p99 / base:.2f}", alice
            )
    Console().print(table)


if __name__ == "__main__":
    main()
