"""Reaper load: `/health` latency and manager CPU while the reaper runs over large snapshots.

    .venv/bin/python bench/reaper_load.py [--sessions 3] [--snapshot-mb 40] [--requests 2000]

Writes a registry of the earlier schema (snapshots inside the session rows) holding hibernated
sessions with a state snapshot of `--snapshot-mb` MB each, starts a real manager on it (the
reaper every 0.2 s; no container is made: hibernated sessions have none), then times
sequential `GET /health` requests and reads the manager's CPU time from /proc. A manager that
reads every snapshot on each reaper pass shows it in the p99 and the CPU; one that keeps them
out of the listing does not.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
from harness import percentile
from rich.console import Console
from rich.table import Table

from container_manager.testing import run_label
from session_manager.testing import ManagerProcess

_V1_SCHEMA = """
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY, processor_id TEXT NOT NULL UNIQUE, user_id TEXT,
    genes TEXT NOT NULL DEFAULT '{}', ttl_seconds INTEGER, status TEXT NOT NULL,
    created_at REAL NOT NULL, last_activity REAL NOT NULL, expires_at REAL, url TEXT,
    internal_url TEXT, token TEXT, snapshot BLOB
)
"""


def write_registry(path: Path, sessions: int, snapshot_mb: int) -> None:
    snapshot = b'{"stm": [["' + b"x" * (snapshot_mb * 2**20) + b'"]]}'
    now = time.time()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_V1_SCHEMA)
        for index in range(sessions):
            db.execute(
                "INSERT INTO sessions (session_id, processor_id, status, created_at, "
                "last_activity, snapshot) VALUES (?, ?, 'hibernated', ?, ?, ?)",
                (f"{index:032x}", f"bench{index}", now, now, snapshot),
            )
    db.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--snapshot-mb", type=int, default=40)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        write_registry(state / "sessions.sqlite3", args.sessions, args.snapshot_mb)
        manager = ManagerProcess(
            state, run_label(), KATO_REAP_INTERVAL="0.2", LOG_LEVEL="WARNING"
        ).start()
        try:
            pid = manager.pid
            assert pid is not None
            with httpx.Client(base_url=manager.url, timeout=30) as http:
                listed = http.get("/sessions").json()["sessions"]
                assert len(listed) == args.sessions, listed
                time.sleep(1)  # a few reaper passes first
                cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
                samples = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    http.get("/health").raise_for_status()
                    samples.append(time.perf_counter() - started)
                cpu = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - wall_before)
        finally:
            manager.stop()
    table = Table(title=f"/health with {args.sessions} x {args.snapshot_mb} MB snapshots")
    for column in ("requests", "p50 ms", "p99 ms", "max ms", "manager CPU"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(samples)),
        f"{percentile(samples, 50) * 1000:.2f}",
        f"{percentile(samples, 99) * 1000:.2f}",
        f"{max(samples) * 1000:.2f}",
        f"{cpu:.0%}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
