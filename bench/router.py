"""Router benchmark: requests/s, p50 and p99 of the manager's builtin proxy and of the HAProxy
router, with wrk, against the container they front (and, with `--baseline`, against another
checkout's manager).

    .venv/bin/python bench/router.py [--rounds 3] [--duration 5] [--concurrency 1,10,50]
                                     [--baseline DIR] [--no-haproxy] [--path /stm]
                                     [--image kato:fastapi]

Starts a real manager (subprocess on loopback, temporary state dir, the real engine) and one
session, then runs `wrk -t1 -c<C> -d<duration>s --latency` on `GET <path>` (a) straight to the
session's container with its token and (b) through the manager at `/session/<id><path>`. With
`--baseline DIR` (a checkout of other code, say `git worktree add --detach /work/wt/base main`)
a second manager runs that code (DIR first on its `sys.path`) with its own session, measured in
the same rounds. Each round runs every target once per concurrency, the order rotated from
round to round so drift hits every target alike. Unless `--no-haproxy` (or without HAProxy
installed: `scripts/ensure-haproxy.sh`), a third manager runs with `KATO_ROUTER=haproxy` and its
session is measured through HAProxy (CPU per request: HAProxy's process). Prints each run's
requests/s, p50, p99 and (for a manager or HAProxy) its CPU time per request, which a busy
machine disturbs less than the throughput,
their medians over the rounds, and the ratios of the median requests/s. Target (issue 20):
through the manager ≥ 2× the baseline's requests/s at concurrency 10, p99 ≤ 10 ms; through
HAProxy ≥ 0.6× the container's requests/s at concurrency 10, p99 ≤ 5 ms, and at most 0.15 ms
added to the container's p50 at concurrency 1. wrk comes
from `scripts/ensure-wrk.sh`. Everything it makes is labelled and removed at the end.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import Run, run_wrk, running_manager
from rich.console import Console
from rich.table import Table

from kato.web.launcher import free_port


@dataclass
class Target:
    """One way to reach the processor's `path`, and what wrk measured there."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: The process that serves it when it is a manager: its CPU time per request is measured.
    pid: int | None = None
    rates: dict[int, list[float]] = field(default_factory=dict)
    p99s: dict[int, list[float]] = field(default_factory=dict)
    p50s: dict[int, list[float]] = field(default_factory=dict)
    #: Answers other than 2xx/3xx, summed over the runs (counted, shown, never hidden).
    refused: dict[int, int] = field(default_factory=dict)
    #: The serving process's CPU seconds (user + system) per request, per run.
    cpu: dict[int, list[float]] = field(default_factory=dict)

    def median_rate(self, concurrency: int) -> float:
        return statistics.median(self.rates[concurrency])

    def median_p99(self, concurrency: int) -> float:
        return statistics.median(self.p99s[concurrency])

    def median_p50(self, concurrency: int) -> float:
        return statistics.median(self.p50s[concurrency])


def wrk(target: Target, concurrency: int, seconds: float) -> Run:
    """One wrk run against `target`; a socket error fails."""
    return run_wrk(target.url, concurrency, seconds, target.headers, pid=target.pid)


def session_of(
    manager_url: str, path: str, headers: dict[str, str] | None = None
) -> tuple[Target, Target]:
    """A new session's (through the manager, direct with its token) targets for `path`."""
    with httpx.Client(base_url=manager_url, headers=headers, timeout=120) as http:
        session = http.post("/session/create", json={"genes": {"max_pattern_length": 8}})
        session.raise_for_status()
        created = session.json()
        via = f"{manager_url}/session/{created['session_id']}{path}"
        assert http.get(via).status_code == 200  # routed and answering
    token = {"Authorization": f"Bearer {created['token']}"}
    direct = Target("container", created["url"] + path, token)
    return Target("manager", via, dict(headers or {})), direct


def measure(targets: list[Target], concurrencies: list[int], rounds: int, seconds: float) -> None:
    for target in targets:  # warm-up: connections, caches, the interpreter's lazy imports
        wrk(target, 10, 1)
    for round_ in range(rounds):
        for concurrency in concurrencies:
            shift = round_ % len(targets)
            for target in targets[shift:] + targets[:shift]:
                run = wrk(target, concurrency, seconds)
                target.cpu.setdefault(concurrency, []).append(run.cpu)
                target.rates.setdefault(concurrency, []).append(run.rate)
                target.p50s.setdefault(concurrency, []).append(run.p50)
                target.p99s.setdefault(concurrency, []).append(run.p99)
                target.refused[concurrency] = target.refused.get(concurrency, 0) + run.refused
                print(
                    f"round {round_ + 1} c{concurrency} {target.name}: "
                    f"{run.rate:,.0f} req/s, p50 {run.p50 * 1000:.3f} ms, "
                    f"p99 {run.p99 * 1000:.2f} ms"
                    + (f", server CPU {run.cpu * 1e6:.0f} µs/request" if target.pid else "")
                    + (f", {run.refused} answers not 2xx/3xx" if run.refused else ""),
                    flush=True,
                )


def report(
    targets: list[Target], concurrencies: list[int], direct: Target, baseline: Target | None
) -> Table:
    table = Table(title="GET through each router (wrk -t1, medians of the rounds)")
    columns = ["c", "target", "req/s per run", "median req/s", "median p50 ms"]
    columns += ["p99 ms per run", "median p99 ms", "server CPU µs/req", "not 2xx", "÷ container"]
    if baseline is not None:
        columns.append("÷ baseline")
    for column in columns:
        table.add_column(column, justify="right")
    for concurrency in concurrencies:
        for target in targets:
            rate = target.median_rate(concurrency)
            row = [
                str(concurrency),
                target.name,
                " ".join(f"{r:,.0f}" for r in target.rates[concurrency]),
                f"{rate:,.0f}",
                f"{target.median_p50(concurrency) * 1000:.3f}",
                " ".join(f"{p * 1000:.2f}" for p in target.p99s[concurrency]),
                f"{target.median_p99(concurrency) * 1000:.2f}",
                f"{statistics.median(target.cpu[concurrency]) * 1e6:.0f}" if target.pid else "",
                str(target.refused.get(concurrency, 0)),
                f"{rate / direct.median_rate(concurrency):.2f}×",
            ]
            if baseline is not None:
                row.append(f"{rate / baseline.median_rate(concurrency):.2f}×")
            table.add_row(*row)
    return table


def revision(checkout: Path) -> str:
    found = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return found.stdout.strip()[:100] or "(not a git checkout)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--concurrency", default="1,10,50", help="wrk -c values, comma separated")
    parser.add_argument("--baseline", type=Path, help="a checkout whose manager is the baseline")
    parser.add_argument("--path", default="/stm", help="the processor path to GET")
    parser.add_argument(
        "--no-haproxy", action="store_true", help="leave out the KATO_ROUTER=haproxy manager"
    )
    parser.add_argument("--image", default="kato:fastapi")
    parser.add_argument("--log-level", default="INFO", help="the managers' LOG_LEVEL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: bash scripts/ensure-wrk.sh")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    env = {"KATO_IMAGE": args.image, "LOG_LEVEL": args.log_level}
    console = Console(width=170)
    with ExitStack() as stack:
        manager, _ = stack.enter_context(running_manager(**env))
        via, direct = session_of(manager.url, args.path)
        via.pid = manager.pid
        console.print(f"manager: {revision(Path(__file__).resolve().parent.parent)}")
        targets = [direct, via]
        baseline = None
        if args.baseline is not None:
            base, _ = stack.enter_context(running_manager(args.baseline.resolve(), **env))
            baseline, _ = session_of(base.url, args.path)
            baseline.name, baseline.pid = "baseline", base.pid
            targets.append(baseline)
            console.print(f"baseline: {revision(args.baseline)}")
        if not args.no_haproxy and shutil.which("haproxy") is not None:
            targets.append(stack.enter_context(haproxy_target(args.path, env)))
        measure(targets, concurrencies, args.rounds, args.duration)
    console.print(report(targets, concurrencies, direct, baseline))
    console.print("targets: manager ≥ 2× the baseline's req/s at c10, p99 ≤ 10 ms; haproxy ≥ 0.6×")
    console.print("the container's req/s at c10, p99 ≤ 5 ms, p50 at c1 ≤ the container's + 0.15 ms")


@contextmanager
def haproxy_target(path: str, env: dict[str, str]) -> Iterator[Target]:
    """A `KATO_ROUTER=haproxy` manager's session, through HAProxy (its CPU is HAProxy's)."""
    key = secrets.token_hex(16)
    routed = {"KATO_ROUTER": "haproxy", "KATO_API_PORT": str(free_port()), "KATO_API_KEY": key}
    with running_manager(None, **env, **routed) as (manager, _):
        target, _ = session_of(manager.url, path, {"Authorization": f"Bearer {key}"})
        pidfile = manager.state_dir / "haproxy" / "haproxy.pid"
        target.name, target.pid = "haproxy", int(pidfile.read_text().split()[0])
        yield target


if __name__ == "__main__":
    main()
