"""Processor benchmark: observe-with-predictions in-process and over HTTP, learn, service memory.

    .venv/bin/python bench/processor.py [--patterns 2000] [--ops 1000] [--log-level INFO]
                                        [--starts 5] [--no-postgres]

Learns N random patterns (3–12 events of 1–3 symbols from a 1,000-symbol vocabulary, fixed
seed) into a SQLite store, then replays the same observe operations (STM cleared every 4
events) against the in-process processor and against two real services (uvicorn subprocesses
on copies of that store, keep-alive httpx clients), one with the short-term state persisted on
every request (``KATO_PERSIST_STATE=true``, the default) and one without (``false``, the
behaviour before persistence existed), interleaved request by request so both see the same
machine. Prints p50/p99 of observe in each, learn p50, the services' RSS, and checks that HTTP
predictions equal the in-process ones. Target: HTTP p50 ≤ 2 ms.
Then starts ``python -m kato.services`` on an empty store and on the learned one ``--starts`` times
each and prints process start → first 200 on ``/health``.

Beside SQLite, in the same run, the PostgreSQL store (``KATO_POSTGRES_URL``) on a throw-away local
PostgreSQL cluster (:mod:`kato.testing.postgres`; skipped, and said so, when no server binaries are
installed, or with ``--no-postgres``): the same learns and observes in process, a third service in
the HTTP interleave, the same start-ups, printed with the ratio to SQLite; its predictions must
equal SQLite's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import percentile
from rich.console import Console
from rich.table import Table

from kato.processor import KatoProcessor, Observation, ProcessorConfig, open_store
from kato.services.testing import ServiceProcess
from kato.testing.postgres import PostgresServer, find_binaries
from kato.web.launcher import free_port

PROCESSOR_ID = "bench"
SEED = 20260906
STM_WINDOW = 4
MIB = 2**20

Event = list[str]


def random_patterns(rng: random.Random, count: int) -> list[list[Event]]:
    vocabulary = [f"s{i:04d}" for i in range(1000)]
    return [
        [rng.sample(vocabulary, rng.randint(1, 3)) for _ in range(rng.randint(3, 12))]
        for _ in range(count)
    ]


def observe_ops(rng: random.Random, patterns: list[list[Event]], count: int) -> list[Event]:
    """Prefixes of learned patterns, so most observations find real predictions."""
    ops: list[Event] = []
    while len(ops) < count:
        ops.extend(rng.choice(patterns)[:STM_WINDOW])
    return ops[:count]


def learn_all(processor: KatoProcessor, patterns: list[list[Event]]) -> list[float]:
    durations = []
    for index, pattern in enumerate(patterns):
        for event_index, event in enumerate(pattern):
            processor.observe(Observation(event, [], {}, f"learn-{index}-{event_index}"))
        started = time.perf_counter()
        processor.learn()
        durations.append(time.perf_counter() - started)
    return durations


def run_in_process(processor: KatoProcessor, ops: list[Event]) -> tuple[list[float], list[Any]]:
    durations, results = [], []
    for index, event in enumerate(ops):
        if index % STM_WINDOW == 0:
            processor.clear_stm()
        observation = Observation(event, [], {}, f"op-{index}")
        started = time.perf_counter()
        processor.observe(observation)
        durations.append(time.perf_counter() - started)
        results.append(processor.get_predictions())
    return durations, results


def run_http(urls: list[str], ops: list[Event]) -> list[tuple[list[float], list[Any]]]:
    """The same operations on every service, one operation on each in turn."""
    runs: list[tuple[list[float], list[Any]]] = [([], []) for _ in urls]
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    try:
        for http in clients:
            http.post("/observe", json={"strings": ["warm-up"]}).raise_for_status()
        for index, event in enumerate(ops):
            for http, (durations, results) in zip(clients, runs, strict=True):
                if index % STM_WINDOW == 0:
                    http.post("/clear-stm").raise_for_status()
                body = {"strings": event, "unique_id": f"op-{index}"}
                started = time.perf_counter()
                http.post("/observe", json=body).raise_for_status()
                durations.append(time.perf_counter() - started)
                results.append(http.get("/predictions").json()["predictions"])
    finally:
        for http in clients:
            http.close()
    return runs


def _health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start_to_ready(data_dir: str, processor_id: str, postgres_url: str | None = None) -> float:
    """Seconds from spawning ``python -m kato.services`` to its first 200 on /health."""
    port = free_port()
    env = {**os.environ, "PROCESSOR_ID": processor_id, "KATO_DATA_DIR": data_dir,
           "PORT": str(port)}
    if postgres_url:
        env["KATO_POSTGRES_URL"] = postgres_url
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kato.services"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while not _health_ok(port):
            if process.poll() is not None:
                raise RuntimeError("service exited during start-up")
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()


def run_postgres(
    server: PostgresServer,
    patterns: list[list[Event]],
    ops: list[Event],
    tmp: str,
    starts: int,
) -> tuple[dict[str, list[float]], list[Any], str]:
    """Learn and observe in process on the PostgreSQL store, then time the start-ups on it;
    returns the samples by measure, the in-process predictions and the learned store's URL."""
    url = server.create_database("bench")
    processor = KatoProcessor(
        ProcessorConfig(PROCESSOR_ID), open_store(PROCESSOR_ID, postgres_url=url)
    )
    try:
        learn = learn_all(processor, patterns)
        local, results = run_in_process(processor, ops)
    finally:
        processor.close()
    samples = {"observe, in-process": local, "learn, in-process": learn}
    for label, processor_id in (("empty store", "empty"), ("learned store", PROCESSOR_ID)):
        samples[f"start → /health 200, {label}"] = [
            start_to_ready(tmp, processor_id, url) for _ in range(starts)
        ]
    return samples, results, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=2000)
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--log-level", default="INFO", help="service LOG_LEVEL (DEBUG: log all)")
    parser.add_argument("--starts", type=int, default=5, help="start-up measurements per store")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()

    rng = random.Random(SEED)
    patterns = random_patterns(rng, args.patterns)
    ops = observe_ops(rng, patterns, args.ops)
    console = Console()
    binaries = None if args.no_postgres else find_binaries()
    if binaries is None and not args.no_postgres:
        console.print("no PostgreSQL server binaries (scripts/ensure-postgres.sh): SQLite only")
    with tempfile.TemporaryDirectory(prefix="kato-bench-") as tmp:
        data_dir = Path(tmp)
        processor = KatoProcessor(
            ProcessorConfig(PROCESSOR_ID), open_store(PROCESSOR_ID, data_dir=data_dir)
        )
        try:
            learn = learn_all(processor, patterns)
            local, local_results = run_in_process(processor, ops)
        finally:
            processor.close()
        copy = data_dir / "in-memory-state"
        copy.mkdir()
        shutil.copy(data_dir / f"{PROCESSOR_ID}.sqlite3", copy)
        env = {"PROCESSOR_ID": PROCESSOR_ID, "LOG_LEVEL": args.log_level}
        services = [
            ServiceProcess(
                {**env, "KATO_DATA_DIR": tmp, "KATO_PERSIST_STATE": "true"}, data_dir / "p.log"
            ),
            ServiceProcess(
                {**env, "KATO_DATA_DIR": str(copy), "KATO_PERSIST_STATE": "false"},
                copy / "m.log",
            ),
        ]
        with contextlib.ExitStack() as stack:
            postgres: dict[str, list[float]] = {}
            postgres_results: list[Any] = []
            if binaries is not None:
                server = stack.enter_context(PostgresServer(binaries))
                postgres, postgres_results, url = run_postgres(
                    server, patterns, ops, tmp, args.starts
                )
                services.append(ServiceProcess(
                    {**env, "KATO_POSTGRES_URL": url, "KATO_DATA_DIR": tmp}, data_dir / "pg.log"
                ))
            for service in services:
                stack.enter_context(service)
            runs = run_http([service.url for service in services], ops)
            rss = services[0].rss_bytes(), services[1].rss_bytes()
            (remote, remote_results), (memory, memory_results) = runs[:2]
            http_results = [results for _, results in runs]
            if binaries is not None:
                postgres["observe, HTTP, state persisted"] = runs[2][0]
        starts = {
            label: [start_to_ready(tmp, processor_id) for _ in range(args.starts)]
            for label, processor_id in (("empty store", "empty"), ("learned store", PROCESSOR_ID))
        }

    with_predictions = sum(1 for result in local_results if result)
    table = Table(title=f"KATO processor: {args.patterns} patterns, {args.ops} observe ops")
    for column in ("measure", "p50 (ms)", "p99 (ms)"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for label, values in (
        ("observe, in-process", local),
        (f"observe, HTTP, state in memory only (LOG_LEVEL={args.log_level})", memory),
        (f"observe, HTTP, state persisted (LOG_LEVEL={args.log_level})", remote),
        ("learn, in-process (SQLite)", learn),
    ):
        table.add_row(label, *(f"{percentile(values, pct) * 1e3:.3f}" for pct in (50, 99)))
    for label, values in starts.items():
        if values:
            table.add_row(f"start → /health 200, {label}",
                          *(f"{percentile(values, pct) * 1e3:.0f}" for pct in (50, 99)))
    console.print(table)
    if postgres:
        sqlite = {
            "observe, in-process": local,
            "observe, HTTP, state persisted": remote,
            "learn, in-process": learn,
            **{f"start → /health 200, {label}": values for label, values in starts.items()},
        }
        console.width = max(console.width, 120)  # six columns: not folded in an 80-column pipe
        console.print(compare_table(sqlite, postgres))
    console.print(
        f"service RSS after the run: {rss[0] / MIB:.1f} MiB state persisted, "
        f"{rss[1] / MIB:.1f} MiB in memory only"
    )
    console.print(f"observations with predictions: {with_predictions}/{len(ops)}")
    same = all(results == local_results for results in http_results)
    if postgres:
        same = same and postgres_results == local_results
    console.print(f"HTTP (and PostgreSQL) predictions equal in-process: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


def compare_table(sqlite: dict[str, list[float]], postgres: dict[str, list[float]]) -> Table:
    """SQLite and PostgreSQL side by side, measure by measure, with PostgreSQL's p50 over
    SQLite's."""
    table = Table(title="PostgreSQL store beside SQLite (same run, same operations)")
    for column in ("measure", "SQLite p50", "SQLite p99", "PostgreSQL p50", "PostgreSQL p99",
                   "p50 ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for label, postgres_values in postgres.items():
        sqlite_values = sqlite[label]
        p50s = percentile(sqlite_values, 50), percentile(postgres_values, 50)
        table.add_row(
            f"{label} (ms)",
            *(f"{percentile(values, pct) * 1e3:.3f}"
              for values in (sqlite_values, postgres_values) for pct in (50, 99)),
            f"{p50s[1] / p50s[0]:.2f}x",
        )
    return table


if __name__ == "__main__":
    main()
